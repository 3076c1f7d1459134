"""The one module that talks to MLflow (tests/test_architecture.py); what needs no MLflow (the tracking URI and
its masked password, the server's health check and retry settings, the names and tags of our experiments, models
and runs, which runs are orphans) is in pipelines/tracking_store.py.

One experiment per dataset (`<dataset>-beta-vae`), one run per (dataset, beta/C config) with all config as
params, per-epoch metrics, artifacts (traversal PNG, metrics JSON) and the model, registered as a version of
the model `<dataset>-beta-vae`. Artifacts of a local store go to `<root>/mlartifacts`.

Models are logged as code (pipelines/vae/served.py, an encoder pyfunc) with a state_dict and a JSON config: nothing
is pickled, and the logged model needs torch, not this project, wherever it is loaded or served.

A tracking server that cannot be reached is a TrackingError naming the (masked) URI before any work starts;
every other MLflow failure is a TrackingError naming the operation, the URI's password masked.

A process killed mid-training, or one whose store was unreachable when it failed, leaves its run RUNNING; the next
training of that partition ends such runs as KILLED, tagged with the run that took over (`end_orphans`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from pipelines.errors import PipelineError, TrackingError
from pipelines.tracking_store import (
    EXPERIMENT_KIND,
    EXPERIMENT_TAGS,
    SOURCE_TAGS,
    UI_VIEW,
    check_server,
    default_tracking_uri,
    flatten,
    model_name,
    orphaned,
    owner_tags,
    redact,
    scrub,
)

log = logging.getLogger(__name__)
QUIET_DOWNLOADS = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
SERVED_MODEL = Path(__file__).parent / "vae" / "served.py"  # the code MLflow logs and serves as each model


def _named(method):
    """Turn any failure of an MLflow call into a TrackingError naming the operation and the (masked) store."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except PipelineError:
            raise
        except Exception as e:
            reason = self.scrub(f"{type(e).__name__}: {e}")[:500]
            raise TrackingError(f"MLflow at {self.where}: {method.__name__.lstrip('_')} failed ({reason})") from e

    return call


class Tracker:
    """MLflow client bound to one tracking URI (and, for a local store, one artifact root)."""

    def __init__(self, uri: str, artifact_root: str | Path | None = None):
        import mlflow
        from mlflow import MlflowClient

        self.uri, self.where = uri, redact(uri)
        self.artifact_root = Path(artifact_root).resolve() if artifact_root else None
        self._mlflow = mlflow
        if uri.startswith(("http://", "https://")):
            check_server(uri)  # with MLflow's retry settings: the entry points set them (set_mlflow_http_retries)
        if uri.startswith("sqlite:///"):  # the client creates a new store's tables: two processes at once collide
            from pipelines.storage import exclusive

            with exclusive(uri.removeprefix("sqlite:///") + ".lock", f"MLflow store {uri}"):
                self.client = self._connect(MlflowClient)
        else:
            self.client = self._connect(MlflowClient)

    @_named
    def _connect(self, client_class):
        return client_class(tracking_uri=self.uri, registry_uri=self.uri)  # a database store connects here

    @contextlib.contextmanager
    def _fluent(self):
        """MLflow's global URIs set to this tracker's for the calls that only read them (log_model, load_model),
        and $MLFLOW_TRACKING_URI, which mlflow.set_tracking_uri also sets, put back afterwards: otherwise every
        later tracker and child process of this process would silently use this store."""
        previous = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", QUIET_DOWNLOADS)}
        os.environ.setdefault(QUIET_DOWNLOADS, "false")  # a progress bar per model artifact fills the logs
        self._mlflow.set_tracking_uri(self.uri)
        self._mlflow.set_registry_uri(self.uri)
        try:
            yield
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def scrub(self, text: str) -> str:
        """`text` with the tracking URI's password masked wherever it appears."""
        return scrub(text, self.uri)

    @_named
    def experiment_id(self, dataset: str) -> str:
        name = model_name(dataset)
        exp = self.client.get_experiment_by_name(name)
        if exp is None:
            location = (self.artifact_root / name).as_uri() if self.artifact_root else None
            return self.client.create_experiment(name, artifact_location=location, tags=EXPERIMENT_TAGS)
        if exp.tags.get(EXPERIMENT_KIND) != EXPERIMENT_TAGS[EXPERIMENT_KIND]:  # made by an older version
            self.client.set_experiment_tag(exp.experiment_id, EXPERIMENT_KIND, EXPERIMENT_TAGS[EXPERIMENT_KIND])
        return exp.experiment_id

    @_named
    def sweep_run(self, dataset: str, sweep_key: str, params: dict, tags: dict | None = None) -> str:
        """The parent run of one sweep (one grid of configs on one data version) of `dataset`: found by its
        `sweep_key` tag, created on first use; partition runs nest under it. It is left RUNNING: whoever trains
        under it ends it (end_run), so that it lasts from its first training to its latest. A found run gets the
        source tags and `tags` it lacks (the latest commit, a run made by an older version)."""
        exp = self.experiment_id(dataset)
        found = self.client.search_runs([exp], filter_string=f"tags.sweep_key = '{sweep_key}'", max_results=1)
        tags = {"sweep_key": sweep_key, "dataset": dataset, "kind": "sweep", **SOURCE_TAGS, **(tags or {})}
        if found:
            run = found[0]
            for key, value in tags.items():
                if run.data.tags.get(key) != value:
                    self.client.set_tag(run.info.run_id, key, value)
            return run.info.run_id
        run = self.client.create_run(exp, run_name=f"{dataset}-sweep", tags=tags)
        self.client.log_batch(run.info.run_id, params=[_param(k, v) for k, v in flatten(params).items()])
        return run.info.run_id

    @_named
    def start_run(
        self, dataset: str, config: str, params: dict, tags: dict | None = None, parent_run_id: str | None = None
    ) -> str:
        """A new run for one (dataset, config) partition, nested under `parent_run_id` when given."""
        tags = {"dataset": dataset, "config": config, **owner_tags(), **SOURCE_TAGS, **(tags or {})}
        if parent_run_id:
            tags["mlflow.parentRunId"] = parent_run_id  # what start_run(parent_run_id=) sets, without global state
        run = self.client.create_run(self.experiment_id(dataset), run_name=f"{dataset}-{config}", tags=tags)
        self.client.log_batch(run.info.run_id, params=[_param(k, v) for k, v in flatten(params).items()])
        log.info("MLflow run %s for %s/%s at %s", run.info.run_id, dataset, config, self.where)
        return run.info.run_id

    @_named
    def end_orphans(self, dataset: str, successors: dict[str, str]) -> list[str]:
        """End as KILLED the runs of the partitions (dataset, config) in `successors` {config: new run id} left
        RUNNING by a process of this host that no longer exists (`orphaned`), each tagged `superseded_by` = its
        config's new run; returns their ids."""
        running = self.client.search_runs([self.experiment_id(dataset)], filter_string="attributes.status = 'RUNNING'")
        ended = []
        for run in running:
            tags, run_id = run.data.tags, run.info.run_id
            successor = successors.get(tags.get("config", ""))
            if successor in (None, run_id) or not orphaned(tags):
                continue
            self.client.set_tag(run_id, "superseded_by", successor)
            self.client.set_terminated(run_id, "KILLED")
            ended.append(run_id)
            log.warning("MLflow run %s of %s/%s was left RUNNING by process %s, which is gone; marked KILLED "
                        "(superseded by %s)", run_id, dataset, tags["config"], tags.get("pid"), successor)  # fmt: skip
        return ended

    @_named
    def log_training_data(self, run_id: str, path: str | Path, md5: str, name: str) -> None:
        """Record the training data as the run's input dataset, its digest the DVC md5 of the file; `path` as
        given (relative to the project root: a run names no machine's folders)."""
        from mlflow.data.dataset_source_registry import resolve_dataset_source
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.entities import DatasetInput, InputTag

        with warnings.catch_warnings():  # a local path matches two registered source kinds; either is right
            warnings.simplefilter("ignore", UserWarning)
            source = resolve_dataset_source(str(path))
        dataset = MetaDataset(source=source, name=name, digest=md5)
        tags = [InputTag(key="mlflow.data.context", value="training")]
        self.client.log_inputs(run_id, datasets=[DatasetInput(dataset._to_mlflow_entity(), tags)])

    @_named
    def log_metrics(self, run_id: str, metrics: dict, step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(1000 * time.time())
        scalars = [
            Metric(k, float(v), now, step or 0)
            for k, v in flatten(metrics).items()
            if isinstance(v, int | float | np.floating | np.integer) and np.isfinite(v)
        ]
        self.client.log_batch(run_id, metrics=scalars)

    @_named
    def log_artifact(self, run_id: str, path: str | Path) -> None:
        self.client.log_artifact(run_id, str(path))

    @_named
    def log_json(self, run_id: str, payload: dict, name: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_text(json.dumps(payload, indent=2, default=float))
            self.client.log_artifact(run_id, str(path))

    @_named
    def run_status(self, run_id: str) -> str | None:
        """FINISHED, FAILED, RUNNING, ... of a run, or None when this store does not have it."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_run(run_id).info.status
        except MlflowException:  # not in this store; a store that does not answer is a TrackingError (_named)
            return None

    @_named
    def end_run(self, run_id: str, status: str = "FINISHED", reason: str = "") -> None:
        """End a run with `status`; a `reason` (why it FAILED) is kept as its tag `failure_reason`."""
        if reason:
            self.client.set_tag(run_id, "failure_reason", reason[:5000])
        self.client.set_terminated(run_id, status)

    @_named
    def log_model(self, run_id: str, model, dataset: str, input_example: np.ndarray) -> str:
        """Log `model` (a BetaVAE) to the run as the encoder pyfunc of pipelines/vae/served.py, its weights a
        state_dict and its architecture JSON, and register it; returns the registered version."""
        import mlflow.pyfunc
        import torch
        from mlflow.models import ModelSignature
        from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec

        signature = ModelSignature(
            inputs=Schema([TensorSpec(np.dtype(np.float64), (-1, model.cfg.input_dim))]),
            outputs=Schema([ColSpec("double", f"z{i}") for i in range(model.cfg.latent_dim)]),
            params=ParamSchema([ParamSpec("output", "string", "latents"), ParamSpec("logvar", "boolean", False)]),
        )
        os.environ.pop("MLFLOW_RUN_ID", None)  # it would silently override run_id below
        with tempfile.TemporaryDirectory() as tmp, self._fluent(), self._mlflow.start_run(run_id=run_id):
            torch.save(model.state_dict(), Path(tmp) / "weights.pt")
            (Path(tmp) / "config.json").write_text(json.dumps(model.describe(), indent=2))
            info = mlflow.pyfunc.log_model(
                name="model", python_model=str(SERVED_MODEL), signature=signature,
                artifacts={"weights": str(Path(tmp) / "weights.pt"), "config": str(Path(tmp) / "config.json")},
                input_example=np.asarray(input_example, dtype=np.float64), registered_model_name=model_name(dataset),
                pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", f"mlflow=={mlflow.__version__}",
                                  f"numpy=={np.__version__}", "pandas"],  # stated: inferring them costs ~3 s
            )  # fmt: skip
        version = str(info.registered_model_version)
        log.info("registered %s version %s (run %s)", model_name(dataset), version, run_id)
        return version

    def model_version(self, dataset: str, version: str | int):
        """The registered version `version` (a number, or "champion": the alias) of `<dataset>-beta-vae`, with its
        tags; TrackingError naming the model when there is none."""
        name = model_name(dataset)
        try:
            if str(version).isdigit():
                return self.client.get_model_version(name, str(version))
            return self.client.get_model_version_by_alias(name, str(version).lstrip("@"))
        except Exception as e:
            raise TrackingError(f"{name} has no version {version!r} in {self.where} (train it, and for the "
                                f"champion run the report)") from e  # fmt: skip

    def load_model(self, dataset: str, version: str | int):
        """Registered version `version` of `<dataset>-beta-vae` (model_version resolves an alias to one), as its
        MLflow pyfunc (`predict`: pipelines/vae/served.py)."""
        import mlflow.pyfunc

        try:
            with self._fluent():
                return mlflow.pyfunc.load_model(f"models:/{model_name(dataset)}/{version}")
        except Exception as e:  # MlflowException and OSErrors alike: name the model and reason
            raise TrackingError(f"{model_name(dataset)} version {version}: cannot load ({e})") from e

    @_named
    def describe_version(self, dataset: str, version: str, tags: dict, description: str | None = None) -> None:
        """Tags (and a description) on registered version `version` of `<dataset>-beta-vae`: what the Models page
        shows beside it."""
        for key, value in tags.items():
            self.client.set_model_version_tag(model_name(dataset), version, key, str(value))
        if description is not None:
            self.client.update_model_version(model_name(dataset), version, description=description)

    @_named
    def set_alias(self, dataset: str, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(model_name(dataset), alias, version)

    @_named
    def parent_of(self, run_id: str) -> str | None:
        """The parent (sweep) run of `run_id`, if it has one."""
        return self.client.get_run(run_id).data.tags.get("mlflow.parentRunId")

    @_named
    def run_url(self, run_id: str) -> str:
        run = self.client.get_run(run_id)
        return f"#/experiments/{run.info.experiment_id}/runs/{run_id}?{UI_VIEW}"


def _param(key: str, value):
    from mlflow.entities import Param

    return Param(key, json.dumps(value) if isinstance(value, list | tuple) else str(value))


def tracker_for(root: str | Path, uri: str = "") -> Tracker:
    """The tracker of a project checkout: `uri`, else $MLFLOW_TRACKING_URI, else sqlite in the root. A database
    store used directly (sqlite, postgresql, ...) keeps its artifacts in <root>/mlartifacts; a tracking server
    (http, https) stores them where the server says."""
    uri = uri or default_tracking_uri(root)
    served = uri.startswith(("http://", "https://", "databricks"))
    return Tracker(uri, artifact_root=None if served else Path(root) / "mlartifacts")
