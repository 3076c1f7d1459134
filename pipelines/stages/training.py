"""The training stages: one (dataset, config) partition, or a grid of them in one vectorised pass, trained,
logged to MLflow and registered; idempotent per partition (run.json records what it was trained from).

A partition is `train.seeds` models of one config, seeded train.seed, train.seed + 1, ...: each seed is its own
MLflow run (tagged `seed`, nested under the sweep's run) and registered model version, its checkpoint at
`Workspace.checkpoint(dataset, config, seed)`; run.json lists them under `runs`."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.config import load_params, load_sweep, sweep_config
from pipelines.dataset import TrainingSet
from pipelines.errors import ConfigError, PipelineError, TrackingError, TrainingError
from pipelines.stages.common import StageResult, locked
from pipelines.stages.datasets import DATASETS
from pipelines.storage import write_csv, write_text
from pipelines.tracking import Tracker
from pipelines.vae.regularizers import LossConfig
from pipelines.versioning import file_md5, git_commit
from pipelines.workspace import Workspace

log = logging.getLogger(__name__)


def sweep(ws: Workspace) -> list[LossConfig]:
    """The beta/C configs of the workspace's params.yaml `sweep`, in file order (pipelines.config.load_sweep)."""
    return load_sweep(ws.params_path)


def loss_config(ws: Workspace, name: str) -> LossConfig:
    """The workspace's sweep config called `name` (pipelines.config.sweep_config)."""
    return sweep_config(ws.params_path, name)


def _run_info_path(ws: Workspace, dataset: str, config: str) -> Path:
    return ws.model_dir(dataset, config) / "run.json"


def run_info(ws: Workspace, dataset: str, config: str) -> dict:
    """Data md5, fingerprint and `runs` (one per seed: seed, MLflow run id, registered version, final epoch) of a
    trained partition; `run_id` and `model_version` are its first seed's."""
    return json.loads(_run_info_path(ws, dataset, config).read_text())


def seed_run(info: dict, seed: int) -> dict:
    """The entry of `runs` in a partition's run.json for `seed`."""
    return next(r for r in info["runs"] if r["seed"] == seed)


def train(ws: Workspace, dataset: str, config: str, tracker: Tracker, force: bool = False) -> StageResult:
    """Train one (dataset, config) partition, log it to MLflow and register the model: `train_grid` of one."""
    return train_grid(ws, dataset, tracker, [config], force)[config]


def train_grid(
    ws: Workspace, dataset: str, tracker: Tracker, configs: list[str] | None = None, force: bool = False
) -> dict[str, StageResult]:
    """Train the (dataset, config) partitions of `configs` (default: the whole sweep) in one vectorised pass, each
    an MLflow run nested under the sweep's parent run, with its model registered; returns a StageResult per config.

    Under torchrun (`init_distributed`), every process runs this with the same files, so all agree on what to
    train; they train it data-parallel and only rank 0 logs, registers and writes.

    Idempotent: a partition already trained from the same data (md5) with the same configs, whose checkpoint and
    MLflow run exist, is returned as it is instead of a duplicate run and registry version (training is seeded
    and a config's result does not depend on the grid it is trained in). `force` trains them all again. Two runs
    that would train the same partition at once take turns (a lock per partition), so the second finds it up to
    date instead of training and registering it a second time.
    """
    from pipelines.vae.devices import distributed

    if dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; expected one of {DATASETS}")
    loss_cfgs = [loss_config(ws, name) for name in configs] if configs else sweep(ws)
    if distributed()[1] > 1:  # torchrun: every process must reach the same decision; the Dagster pool serialises
        return _train_grid(ws, dataset, tracker, loss_cfgs, force)
    locks = [f"train-{dataset}-{c.name}" for c in loss_cfgs]
    with locked(ws, locks, f"train {dataset} {', '.join(c.name for c in loss_cfgs)}"):
        return _train_grid(ws, dataset, tracker, loss_cfgs, force)


def _train_grid(
    ws: Workspace, dataset: str, tracker: Tracker, loss_cfgs: list[LossConfig], force: bool
) -> dict[str, StageResult]:
    from pipelines.vae.checkpoints import save_checkpoint
    from pipelines.vae.devices import distributed, pick_device
    from pipelines.vae.trainer import TrainConfig
    from pipelines.vae.trainer import train_grid as train_models

    train_cfg = load_params(ws.params_path, "train", TrainConfig)
    data_path = ws.training_set(dataset)
    data = TrainingSet.load(data_path).part("train")
    bad = int((~np.isfinite(data.x)).sum())
    if bad:  # the sample checks stop this upstream; a file changed behind their back must not reach MLflow either
        raise TrainingError(f"{dataset} training set {data_path}: {bad} non-finite value(s); re-run its data stages")
    data_md5 = file_md5(data_path)
    results, todo = {}, []
    for loss_cfg in loss_cfgs:
        params = {
            "train": asdict(train_cfg),
            "loss": asdict(loss_cfg),
            "data": {"dataset": dataset, "n_train": len(data), "length": data.x.shape[1], "factors": data.factor_names},
        }
        fingerprint = hashlib.md5(json.dumps([params, data_md5], sort_keys=True).encode()).hexdigest()
        previous = _previous_run(ws, dataset, loss_cfg.name, tracker)
        checkpoints = [ws.checkpoint(dataset, loss_cfg.name, s) for s in train_cfg.seed_list]
        if not force and previous.get("fingerprint") == fingerprint and all(map(_loads, checkpoints)):
            log.info("%s/%s is up to date (MLflow run %s); not retraining", dataset, loss_cfg.name, previous["run_id"])
            results[loss_cfg.name] = StageResult(checkpoints[0], previous["final"], extra={**previous, "reused": True})
        else:
            todo.append((loss_cfg, params, fingerprint))
    if not todo:
        return results
    if distributed()[0] != 0:  # under torchrun: the other processes train alongside rank 0 and record nothing
        train_models(data.x, train_cfg, [c for c, _, _ in todo])
        return {}
    sweep_params = {"train": asdict(train_cfg), "sweep": [asdict(c) for c in sweep(ws)], "data_md5": data_md5}
    sweep_key = hashlib.md5(json.dumps(sweep_params, sort_keys=True).encode()).hexdigest()
    tags = {"data_md5": data_md5, **system_tags(ws, pick_device(train_cfg.device))}
    parent = tracker.sweep_run(dataset, sweep_key, sweep_params, tags)
    if len(todo) > 1:
        tags["trained_in_grid_of"] = str(len(todo))
    seeds = train_cfg.seed_list
    members = [(c, p, seed) for c, p, _ in todo for seed in seeds]  # as train_models numbers them
    run_ids = [
        tracker.start_run(dataset, c.name, {**p, "seed": seed}, tags={**tags, "seed": str(seed)}, parent_run_id=parent)
        for c, p, seed in members
    ]
    try:
        try:
            tracker.end_orphans(dataset, {c.name: run_id for (c, _, _), run_id in zip(members, run_ids, strict=True)})
        except TrackingError as e:  # housekeeping: the training goes on
            log.warning("could not end the runs that killed trainings left RUNNING (%s)", e)
        for run_id in run_ids:
            tracker.log_training_data(run_id, data_path.relative_to(ws.root), data_md5, name=f"{dataset}-training-set")
        names = [c.name for c, _, _ in todo]
        resume = ws.model_dir(dataset, names[0]) / "resume.pt" if len(todo) == 1 else ws.grid_resume(dataset)
        trained = train_models(
            data.x,
            train_cfg,
            [c for c, _, _ in todo],
            on_epoch=lambda g, m: tracker.log_metrics(run_ids[g], m, step=m["epoch"]),
            resume_path=resume,  # a killed run continues from here
            seeds=seeds,
        )
        for i, (loss_cfg, _, fingerprint) in enumerate(todo):
            runs = []
            for j, seed in enumerate(seeds):
                g = i * len(seeds) + j
                model, history = trained[g]
                path = ws.checkpoint(dataset, loss_cfg.name, seed)
                save_checkpoint(path, model, train_cfg, loss_cfg, history)
                write_csv(ws.history(dataset, loss_cfg.name, seed), pd.DataFrame(history))
                version = tracker.log_model(run_ids[g], model, dataset, data.x[:5])
                tracker.describe_version(
                    dataset, version, {"config": loss_cfg.name, "seed": seed, "data_md5": data_md5},
                    f"{dataset} beta-VAE, config {loss_cfg.name} ({loss_cfg.kind}), seed {seed}, trained on the "
                    f"training set of DVC md5 {data_md5}; test-split metrics are tagged by the metrics stage",
                )  # fmt: skip
                tracker.end_run(run_ids[g])
                final = {k: history[-1][k] for k in ("epoch", "loss", "recon", "kl", "samples_per_s")}
                runs.append({"seed": seed, "run_id": run_ids[g], "model_version": version, "final": final})
            for folder in (path.parent, ws.history(dataset, loss_cfg.name, seeds[0]).parent):
                _remove_other_seeds(folder, seeds)
            final = {k: float(np.median([r["final"][k] for r in runs])) for k in runs[0]["final"]}  # over seeds
            info = {"run_id": runs[0]["run_id"], "model_version": runs[0]["model_version"], "data_md5": data_md5,
                    "tracking_uri": tracker.where, "fingerprint": fingerprint, "final": final,
                    "runs": runs}  # fmt: skip
            write_text(_run_info_path(ws, dataset, loss_cfg.name), json.dumps(info, indent=2) + "\n")
            results[loss_cfg.name] = StageResult(ws.checkpoint(dataset, loss_cfg.name, seeds[0]), final,
                                                 extra={**info, "reused": False})  # fmt: skip
        tracker.end_run(parent)  # the sweep's run ends with its latest grid
    except BaseException:
        for run_id in [*run_ids, parent]:  # best effort: the store may be what failed
            with contextlib.suppress(PipelineError):
                if tracker.run_status(run_id) == "RUNNING":
                    tracker.end_run(run_id, "FAILED")
        raise
    return results


def _remove_other_seeds(folder: Path, seeds: list[int]) -> None:
    """Checkpoints or histories in `folder` of seeds no longer trained (an earlier, larger train.seeds)."""
    keep = {f"seed{seed}" for seed in seeds}
    for path in folder.glob("seed*"):
        if path.stem not in keep:
            path.unlink()


def system_tags(ws: Workspace, device) -> dict:
    """Where a run was trained: device, torch version and the git commit (MLflow's own source tag)."""
    import torch

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    tags = {"device": name, "torch_version": torch.__version__}
    commit = git_commit(ws.root)
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


def _loads(path: Path) -> bool:
    """Whether the model checkpoint at `path` exists and loads (a damaged one is trained again)."""
    from pipelines.vae.checkpoints import load_checkpoint

    if not path.is_file():
        return False
    try:
        load_checkpoint(path)
    except TrainingError as e:
        log.warning("%s; training it again", e)
        return False
    return True


def _previous_run(ws: Workspace, dataset: str, config: str, tracker: Tracker) -> dict:
    """run.json of the partition's last training if its MLflow run still exists in this tracker, else {}."""
    path = _run_info_path(ws, dataset, config)
    if not path.is_file():
        return {}
    info = json.loads(path.read_text())
    runs = info.get("runs", [])
    if info.get("tracking_uri") != tracker.where or not runs:
        return {}
    if any(tracker.run_status(r["run_id"]) != "FINISHED" for r in runs):
        return {}
    return info
