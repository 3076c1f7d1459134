"""The pipeline's stages, each one call from params.yaml to files under data/: what `python -m pipelines
<stage>` (dvc.yaml) and the Dagster assets both run, so the two can never drift apart.

Every stage reads its config from its section of params.yaml, calls the domain functions, writes its outputs
atomically and returns a StageResult (output path, counts, quarantined items, validation suite) that the caller
turns into log lines or asset metadata.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.config import load_params, load_sweep, sweep_config
from pipelines.dataset import TrainingSet
from pipelines.ecg.beats import BeatConfig, segment_beats
from pipelines.ecg.physionet import PhysioNetConfig, download_database
from pipelines.ecg.records import ingest_records
from pipelines.errors import ConfigError, DataValidationError, PipelineError, TrackingError, TrainingError
from pipelines.exchange.bars import ingest_bars
from pipelines.exchange.candles import CandlesApiConfig, update_store
from pipelines.exchange.gaps import gap_stats
from pipelines.exchange.windows import WindowConfig, make_windows
from pipelines.quarantine import Reject, write_quarantine
from pipelines.storage import exclusive, write_parquet, write_text
from pipelines.synthetic.btc import BARS_FILE, FACTORS_FILE, SyntheticBtcConfig, generate_btc
from pipelines.synthetic.ecg import SyntheticEcgConfig, generate_ecg
from pipelines.vae.sweep import LossConfig
from pipelines.validation.bars import BarChecksConfig, validate_bars
from pipelines.validation.ecg import RecordChecksConfig, validate_records
from pipelines.validation.expectations import SuiteResult
from pipelines.validation.samples import SampleChecksConfig, validate_samples
from pipelines.versioning import file_md5, git_commit
from pipelines.workspace import DATASETS, Workspace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourcesConfig:
    ecg: str = "synthetic"  # "synthetic", "physionet" (download, section `physionet`) or a WFDB directory in PTB
    # layout (e.g. ../shared/data/ptbdb)
    btc: str = "synthetic"  # "synthetic", "coinbase" (candles API, section `coinbase`) or a folder of OHLCV
    # .zip/.csv files (e.g. ../shared/data/exchange)


@dataclass
class StageResult:
    output: Path
    counts: dict = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    suite: SuiteResult | None = None
    passed: bool = True  # the stage's blocking condition (enough good data to go on)
    extra: dict = field(default_factory=dict)

    @property
    def md5(self) -> str:
        return file_md5(self.output)


def sweep(ws: Workspace) -> list[LossConfig]:
    """The beta/C configs of the workspace's params.yaml `sweep`, in file order (pipelines.config.load_sweep)."""
    return load_sweep(ws.params_path)


def loss_config(ws: Workspace, name: str) -> LossConfig:
    """The workspace's sweep config called `name` (pipelines.config.sweep_config)."""
    return sweep_config(ws.params_path, name)


@contextlib.contextmanager
def _locked(ws: Workspace, names: list[str], what: str):
    """Hold the locks `names` (data/.locks/<name>.lock), taken in sorted order so two holders never deadlock."""
    with contextlib.ExitStack() as stack:
        for name in sorted(set(names)):
            stack.enter_context(exclusive(ws.lock(name), what))
        yield


def _data_stage(dataset: str):
    """Run the decorated stage holding the dataset's data lock: two runs of the same data stages (two Dagster
    materializations, a Dagster run beside `dvc repro`) take turns instead of writing the same files at once."""

    def wrap(stage):
        @functools.wraps(stage)
        def run(ws: Workspace, *args, **kwargs):
            with _locked(ws, [f"{dataset}-data"], stage.__name__):
                return stage(ws, *args, **kwargs)

        return run

    return wrap


# --- sources ---------------------------------------------------------------------------------------------


def ecg_source(ws: Workspace) -> Path:
    """The WFDB directory the ECG stages read (filled by ingest_ecg for the synthetic and PhysioNet sources)."""
    src = load_params(ws.params_path, "sources", SourcesConfig).ecg
    if src == "synthetic":
        return ws.synthetic_ecg_dir
    if src == "physionet":
        return ws.physionet_dir(load_params(ws.params_path, "physionet", PhysioNetConfig).database)
    return ws.resolve(src)


def fetch_ecg_source(ws: Workspace) -> tuple[Path, list[str] | None, list[Reject]]:
    """Make the ECG source present: generate the synthetic records (a no-op when current) or download from
    PhysioNet (resumable, verified). Returns the directory, the records to ingest (None: all) and rejects."""
    src = load_params(ws.params_path, "sources", SourcesConfig).ecg
    if src == "synthetic":
        generate_ecg(ws.synthetic_ecg_dir, load_params(ws.params_path, "synthetic_ecg", SyntheticEcgConfig))
    elif src == "physionet":
        cfg = load_params(ws.params_path, "physionet", PhysioNetConfig)
        done, rejects = download_database(ecg_source(ws), cfg)
        return ecg_source(ws), done, rejects
    return ecg_source(ws), None, []


def btc_source(ws: Workspace) -> tuple[Path, Path | None]:
    """The folder of bar files and, for synthetic data, the file of per-window generative factors."""
    src = load_params(ws.params_path, "sources", SourcesConfig).btc
    if src == "synthetic":
        return (ws.synthetic_btc_dir / BARS_FILE).parent, ws.synthetic_btc_dir / FACTORS_FILE
    if src == "coinbase":
        return ws.data / "raw" / "coinbase", None
    return ws.resolve(src), None


SOURCE_FILES = {"ecg": ("*.hea", "*.dat", "RECORDS", "CONTROLS"), "btc": ("*.csv", "*.zip", "*.parquet")}


def watched_source(ws: Workspace, dataset: str) -> Path | None:
    """The dataset's source when it is a directory the user fills (an inbox for new WFDB records or bar files);
    None for the synthetic, PhysioNet and Coinbase sources, which the pipeline fills itself."""
    src = getattr(load_params(ws.params_path, "sources", SourcesConfig), dataset)
    if src in ("synthetic", "physionet", "coinbase"):
        return None
    return ws.resolve(src)


def source_fingerprint(directory: Path, dataset: str) -> str:
    """md5 over the relative path, size and mtime of every data file under `directory` (SOURCE_FILES): it changes
    when a record or bar file is added, replaced or removed. A missing directory has the fingerprint of no files."""
    files = sorted({p for pattern in SOURCE_FILES[dataset] for p in Path(directory).rglob(pattern) if p.is_file()})
    entries = [(str(p.relative_to(directory)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return hashlib.md5(json.dumps(entries).encode()).hexdigest()


def generate(ws: Workspace, datasets: tuple[str, ...] = DATASETS) -> StageResult:
    """Generate the embedded default data of the datasets (a no-op where it is current)."""
    with _locked(ws, [f"{d}-data" for d in datasets], "generate"):
        return _generate(ws, datasets)


def _generate(ws: Workspace, datasets: tuple[str, ...]) -> StageResult:
    made = {}
    if "ecg" in datasets:
        made["ecg"] = generate_ecg(
            ws.synthetic_ecg_dir, load_params(ws.params_path, "synthetic_ecg", SyntheticEcgConfig)
        )
    if "btc" in datasets:
        made["btc"] = generate_btc(
            ws.synthetic_btc_dir, load_params(ws.params_path, "synthetic_btc", SyntheticBtcConfig)
        )
    return StageResult(output=next(iter(made.values())), extra={k: str(v) for k, v in made.items()})


# --- ECG -------------------------------------------------------------------------------------------------


@_data_stage("ecg")
def ingest_ecg(ws: Workspace) -> StageResult:
    source, only, rejects = fetch_ecg_source(ws)
    records, ingest_rejects = ingest_records(source, only)
    rejects = rejects + ingest_rejects
    write_quarantine(ws.quarantine("ecg_ingest"), rejects)
    out = write_parquet(ws.ecg_records, records)
    return StageResult(out, {"records": len(records), "patients": records.patient.nunique()}, rejects)


@_data_stage("ecg")
def validate_ecg(ws: Workspace) -> StageResult:
    cfg = load_params(ws.params_path, "ecg_validation", RecordChecksConfig)
    leads = list(load_params(ws.params_path, "beats", BeatConfig).leads)
    records = pd.read_parquet(ws.ecg_records)
    good, rejects, suite = validate_records(records, ecg_source(ws), leads, cfg)
    write_quarantine(ws.quarantine("ecg_validation"), rejects)
    out = write_parquet(ws.ecg_records_validated, good)
    counts = {"records_in": len(records), "records_valid": len(good), "quarantined": len(rejects)}
    return StageResult(out, counts, rejects, suite, passed=len(good) >= cfg.min_good_records)


@_data_stage("ecg")
def heartbeats(ws: Workspace) -> StageResult:
    cfg = load_params(ws.params_path, "beats", BeatConfig)
    records = pd.read_parquet(ws.ecg_records_validated)
    if records.empty:
        raise DataValidationError(f"{ws.ecg_records_validated}: no validated records to segment")
    beats, rejects = segment_beats(records, ecg_source(ws), cfg)
    write_quarantine(ws.quarantine("heartbeats"), rejects)
    out = beats.save(ws.heartbeats)
    return _samples_result(ws, "heartbeat_checks", "heartbeats", beats, out, rejects)


def _samples_result(ws, section: str, name: str, data: TrainingSet, out: Path, rejects) -> StageResult:
    cfg = load_params(ws.params_path, section, SampleChecksConfig)
    suite = validate_samples(name, data, cfg)
    counts = {
        "samples": len(data),
        "train": int((data.split == "train").sum()),
        "test": int((data.split == "test").sum()),
        "length": data.x.shape[1],
    }
    return StageResult(
        out,
        counts,
        rejects,
        suite,
        passed=suite.success,
        extra={"shape": list(data.x.shape), "factors": data.factor_names},
    )


# --- exchange --------------------------------------------------------------------------------------------


@_data_stage("btc")
def ingest_btc(ws: Workspace) -> StageResult:
    src = load_params(ws.params_path, "sources", SourcesConfig).btc
    bars_dir, _ = btc_source(ws)
    if src == "synthetic":
        generate_btc(ws.synthetic_btc_dir, load_params(ws.params_path, "synthetic_btc", SyntheticBtcConfig))
    elif src == "coinbase":
        update_store(bars_dir, load_params(ws.params_path, "coinbase", CandlesApiConfig))
    bars, rejects = ingest_bars(bars_dir)
    write_quarantine(ws.quarantine("btc_ingest"), rejects)
    out = write_parquet(ws.btc_bars, bars)
    return StageResult(out, {"bars": len(bars), "files": int(bars.source.nunique())}, rejects)


@_data_stage("btc")
def validate_btc(ws: Workspace) -> StageResult:
    cfg = load_params(ws.params_path, "btc_validation", BarChecksConfig)
    bars = pd.read_parquet(ws.btc_bars)
    good, rejects, suite = validate_bars(bars, cfg)
    write_quarantine(ws.quarantine("btc_validation"), rejects)
    out = write_parquet(ws.btc_bars_validated, good)
    fraction = len(good) / len(bars) if len(bars) else 0.0
    counts = {"bars_in": len(bars), "bars_valid": len(good), "quarantined": len(rejects)}
    return StageResult(out, counts, rejects, suite, passed=fraction >= cfg.min_good_fraction)


@_data_stage("btc")
def price_windows(ws: Workspace) -> StageResult:
    cfg = load_params(ws.params_path, "windows", WindowConfig)
    bars = pd.read_parquet(ws.btc_bars_validated)
    _, factors_file = btc_source(ws)
    factors = pd.read_csv(factors_file) if factors_file is not None else None
    windows = make_windows(bars, cfg, factors)
    out = windows.save(ws.price_windows)
    result = _samples_result(ws, "window_checks", "price_windows", windows, out, [])
    days = max((bars.timestamp.max() - bars.timestamp.min()) / pd.Timedelta(days=1), 1 / 1440)
    result.counts |= gap_stats(bars, cfg.max_ffill_min) | {"windows_per_day": round(len(windows) / days, 2)}
    return result


# --- model, traversals, metrics, report -------------------------------------------------------------------


def _run_info_path(ws: Workspace, dataset: str, config: str) -> Path:
    return ws.model_dir(dataset, config) / "run.json"


def run_info(ws: Workspace, dataset: str, config: str) -> dict:
    """MLflow run id, registered version and data md5 of a trained partition."""
    return json.loads(_run_info_path(ws, dataset, config).read_text())


def train(ws: Workspace, dataset: str, config: str, tracker, force: bool = False) -> StageResult:
    """Train one (dataset, config) partition, log it to MLflow and register the model: `train_grid` of one."""
    return train_grid(ws, dataset, tracker, [config], force)[config]


def train_grid(
    ws: Workspace, dataset: str, tracker, configs: list[str] | None = None, force: bool = False
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
    from pipelines.vae.trainer import distributed

    if dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; expected one of {DATASETS}")
    loss_cfgs = [loss_config(ws, name) for name in configs] if configs else sweep(ws)
    if distributed()[1] > 1:  # torchrun: every process must reach the same decision; the Dagster pool serialises
        return _train_grid(ws, dataset, tracker, loss_cfgs, force)
    locks = [f"train-{dataset}-{c.name}" for c in loss_cfgs]
    with _locked(ws, locks, f"train {dataset} {', '.join(c.name for c in loss_cfgs)}"):
        return _train_grid(ws, dataset, tracker, loss_cfgs, force)


def _train_grid(ws: Workspace, dataset: str, tracker, loss_cfgs: list[LossConfig], force: bool):
    from pipelines.vae.trainer import TrainConfig, distributed, pick_device, save_checkpoint
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
        if not force and previous.get("fingerprint") == fingerprint and _loads(_checkpoint(ws, dataset, loss_cfg.name)):
            log.info("%s/%s is up to date (MLflow run %s); not retraining", dataset, loss_cfg.name, previous["run_id"])
            results[loss_cfg.name] = StageResult(
                _checkpoint(ws, dataset, loss_cfg.name), previous["final"], extra={**previous, "reused": True}
            )
        else:
            todo.append((loss_cfg, params, fingerprint))
    if not todo:
        return results
    if distributed()[0] != 0:  # under torchrun: the other processes train alongside rank 0 and record nothing
        train_models(data.x, train_cfg, [c for c, _, _ in todo])
        return {}
    sweep_params = {"train": asdict(train_cfg), "sweep": [asdict(c) for c in sweep(ws)], "data_md5": data_md5}
    sweep_key = hashlib.md5(json.dumps(sweep_params, sort_keys=True).encode()).hexdigest()
    parent = tracker.sweep_run(dataset, sweep_key, sweep_params)
    tags = {"data_md5": data_md5, **system_tags(ws, pick_device(train_cfg.device))}
    if len(todo) > 1:
        tags["trained_in_grid_of"] = str(len(todo))
    run_ids = [tracker.start_run(dataset, c.name, p, tags=tags, parent_run_id=parent) for c, p, _ in todo]
    try:
        try:
            tracker.end_orphans(dataset, {c.name: run_id for (c, _, _), run_id in zip(todo, run_ids, strict=True)})
        except TrackingError as e:  # housekeeping: the training goes on
            log.warning("could not end the runs that killed trainings left RUNNING (%s)", e)
        for run_id in run_ids:
            tracker.log_training_data(run_id, data_path, data_md5, name=f"{dataset}-training-set")
        names = [c.name for c, _, _ in todo]
        resume = ws.model_dir(dataset, names[0]) / "resume.pt" if len(todo) == 1 else ws.grid_resume(dataset)
        trained = train_models(
            data.x,
            train_cfg,
            [c for c, _, _ in todo],
            on_epoch=lambda g, m: tracker.log_metrics(run_ids[g], m, step=m["epoch"]),
            resume_path=resume,  # a killed run continues from here
        )
        for (loss_cfg, _, fingerprint), run_id, (model, history) in zip(todo, run_ids, trained, strict=True):
            ckpt = save_checkpoint(_checkpoint(ws, dataset, loss_cfg.name), model, train_cfg, loss_cfg, history)
            version = tracker.log_model(run_id, model, dataset, data.x[:5])
            tracker.end_run(run_id)
            final = {k: history[-1][k] for k in ("epoch", "loss", "recon", "kl", "samples_per_s")}
            info = {"run_id": run_id, "model_version": version, "data_md5": data_md5, "tracking_uri": tracker.where,
                    "fingerprint": fingerprint, "final": final}  # fmt: skip
            write_text(_run_info_path(ws, dataset, loss_cfg.name), json.dumps(info, indent=2) + "\n")
            results[loss_cfg.name] = StageResult(ckpt, final, extra={**info, "reused": False})
    except BaseException:
        for run_id in run_ids:  # best effort: the store may be what failed
            with contextlib.suppress(PipelineError):
                if tracker.run_status(run_id) == "RUNNING":
                    tracker.end_run(run_id, "FAILED")
        raise
    return results


def system_tags(ws: Workspace, device) -> dict:
    """Where a run was trained: device, torch version and the git commit (MLflow's own source tag)."""
    import torch

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    tags = {"device": name, "torch_version": torch.__version__}
    commit = git_commit(ws.root)
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


def _checkpoint(ws: Workspace, dataset: str, config: str) -> Path:
    return ws.model_dir(dataset, config) / "model.pt"


def _loads(path: Path) -> bool:
    """Whether the model checkpoint at `path` exists and loads (a damaged one is trained again)."""
    from pipelines.vae.trainer import load_checkpoint

    if not path.is_file():
        return False
    try:
        load_checkpoint(path)
    except TrainingError as e:
        log.warning("%s; training it again", e)
        return False
    return True


def _previous_run(ws: Workspace, dataset: str, config: str, tracker) -> dict:
    """run.json of the partition's last training if its MLflow run still exists in this tracker, else {}."""
    path = _run_info_path(ws, dataset, config)
    if not path.is_file():
        return {}
    info = json.loads(path.read_text())
    if info.get("tracking_uri") != tracker.where or tracker.run_status(info["run_id"]) != "FINISHED":
        return {}
    return info


def _trained(ws: Workspace, dataset: str, config: str):
    """The partition's trained model and its whole training set (raises when the test split is empty)."""
    from pipelines.vae.trainer import load_checkpoint

    model, _ = load_checkpoint(ws.model_dir(dataset, config) / "model.pt")
    data = TrainingSet.load(ws.training_set(dataset))
    if not (data.split == "test").any():
        raise DataValidationError(f"{dataset}: the test split is empty; cannot evaluate {config}")
    return model, data


def traversals(ws: Workspace, dataset: str, config: str, tracker) -> StageResult:
    from pipelines.evaluation.summary import EvalConfig, encode, mean_kl_per_latent
    from pipelines.evaluation.traversals import plot_traversals, traverse

    cfg = load_params(ws.params_path, "evaluation", EvalConfig)
    model, data = _trained(ws, dataset, config)
    test = data.part("test")
    x0 = test.x[min(cfg.traversal_index, len(test) - 1)]
    kl = mean_kl_per_latent(*encode(model, test.x))
    values, decoded = traverse(model, x0, cfg.traversal_limit, cfg.traversal_steps)
    out = ws.eval_dir(dataset, config) / "traversals.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    plot_traversals(
        out,
        x0,
        values,
        decoded,
        kl,
        test.axis,
        test.axis_label,
        test.value_label,
        title=f"{dataset} · {config}: each latent swept {-cfg.traversal_limit:g}..{cfg.traversal_limit:g}",
    )
    tracker.log_artifact(run_info(ws, dataset, config)["run_id"], out)
    return StageResult(out, {"latents": len(kl), "steps": len(values)})


def metrics(ws: Workspace, dataset: str, config: str, tracker) -> StageResult:
    """Disentanglement and downstream metrics of one partition (metrics.json, MLflow metrics), and its figures:
    latent-vs-factor correlations and samples from the prior beside real ones (PNGs, MLflow artifacts)."""
    from pipelines.evaluation.summary import EvalConfig, encode, probe_scores, sample_prior, summarize_model
    from pipelines.report.figures import correlation_matrix, factor_correlations, prior_samples

    cfg = load_params(ws.params_path, "evaluation", EvalConfig)
    model, data = _trained(ws, dataset, config)
    summary = summarize_model(model, data, cfg) | probe_scores(model, data)
    usable = np.isfinite(data.factors).all(axis=1)
    corr = correlation_matrix(encode(model, data.x[usable])[0], data.factors[usable])
    summary["factor_correlation"] = [[None if np.isnan(v) else float(v) for v in row] for row in corr]
    out_dir = ws.eval_dir(dataset, config)
    kl = np.array(summary["kl_per_latent"])
    figures = [
        factor_correlations(corr, data.factor_names, kl, out_dir / "factor_correlations.png",
                            f"{dataset} · {config}: latents vs {data.factor_kind} factors"),
        prior_samples(sample_prior(model, 8, cfg.seed), data.part("test").x[:8], data.axis, data.axis_label,
                      data.value_label, out_dir / "prior_samples.png", f"{dataset} · {config}: generation"),
    ]  # fmt: skip
    out = write_text(out_dir / "metrics.json", json.dumps(summary, indent=2) + "\n")
    run_id = run_info(ws, dataset, config)["run_id"]
    scalars = {f"test_{k}": v for k, v in summary.items() if isinstance(v, int | float) and np.isfinite(v)}
    tracker.log_metrics(run_id, scalars)
    tracker.log_metrics(run_id, {f"test_kl_{i}": v for i, v in enumerate(summary["kl_per_latent"])})
    tracker.log_json(run_id, summary, "metrics.json")
    for figure in figures:
        tracker.log_artifact(run_id, figure)
    keys = ("recon_rmse", "kl_total", "active_units", "mig", "probe_mi_auroc", "probe_next_vol_r2")
    counts = {k: summary[k] for k in keys if k in summary}
    return StageResult(out, counts, extra={**summary, "figures": figures})


SCORES = ("recon_rmse", "recon_rmse_uv", "kl_total", "active_units", "mig", "sap", "dci_disentanglement",
          "dci_completeness", "dci_informativeness_test", "modularity", "explicitness_test",
          "gaussian_total_correlation", "probe_mi_auroc", "probe_next_vol_r2",
          "probe_next_vol_r2_persistence")  # fmt: skip


def report(ws: Workspace, tracker) -> StageResult:
    """The sweep report over every partition with metrics; sets the `champion` alias per dataset (highest MIG)."""
    from pipelines.vae.trainer import TrainConfig

    epochs = load_params(ws.params_path, "train", TrainConfig).epochs
    rows = []
    for dataset in DATASETS:
        value_label = None  # the training set's units, read once per dataset that has metrics
        for cfg in sweep(ws):
            metrics_file = ws.eval_dir(dataset, cfg.name) / "metrics.json"
            if not metrics_file.is_file():
                log.warning("report: %s/%s has no metrics yet; left out", dataset, cfg.name)
                continue
            m = json.loads(metrics_file.read_text())
            info = run_info(ws, dataset, cfg.name)
            value_label = value_label or TrainingSet.load(ws.training_set(dataset)).value_label
            rows.append(
                {
                    "dataset": dataset,
                    "config": cfg.name,
                    "beta": cfg.beta,
                    "capacity_nats": cfg.capacity_nats,
                    "gamma": cfg.gamma,
                    "epochs": epochs,
                    **{k: m.get(k, float("nan")) for k in SCORES},
                    "kl_per_latent": m["kl_per_latent"],
                    "factor_kind": m["factor_kind"],
                    "value_label": value_label,
                    "model_version": info["model_version"],
                    "run_id": info["run_id"],
                    "traversal_png": ws.eval_dir(dataset, cfg.name) / "traversals.png",
                    "correlations_png": ws.eval_dir(dataset, cfg.name) / "factor_correlations.png",
                    "prior_png": ws.eval_dir(dataset, cfg.name) / "prior_samples.png",
                }
            )
    if not rows:
        raise DataValidationError("report: no partition has metrics; materialize the models first")
    from pipelines.report.figures import kl_heatmap, recon_vs_disentanglement
    from pipelines.report.html import build_report, pick_champions

    champions = pick_champions(rows)
    for dataset, row in champions.items():
        tracker.set_alias(dataset, "champion", row["model_version"])
    champion_configs = {d: r["config"] for d, r in champions.items()}
    frame = pd.DataFrame(rows)
    figures = {
        "scatter": recon_vs_disentanglement(frame, ws.report_dir / "recon_vs_disentanglement.png", champion_configs),
        "kl_heatmap": kl_heatmap(frame, ws.report_dir / "kl_heatmap.png"),
    }  # fmt: skip
    transfer = _transfer(ws, champions)
    out = build_report(rows, ws.report_dir, champions, figures, transfer)
    for parent in {tracker.parent_of(r["run_id"]) for r in rows} - {None}:
        for path in (out, *figures.values()):
            tracker.log_artifact(parent, path)
    extra = {"champions": champion_configs, "figures": figures, "transfer": transfer}
    return StageResult(out, {"runs": len(rows)}, extra=extra)


def _transfer(ws: Workspace, champions: dict[str, dict]) -> dict[str, dict]:
    """Each champion applied zero-shot to the `transfer` section's data (skipped when not configured or absent);
    written to report/transfer.json."""
    from pipelines.ecg.beats import BeatConfig
    from pipelines.evaluation.transfer import TransferConfig, bar_windows, shift_report, wfdb_beats

    cfg = load_params(ws.params_path, "transfer", TransferConfig)
    targets = {"ecg": cfg.ecg_wfdb, "btc": cfg.btc_bars}
    out = {}
    for dataset, row in champions.items():
        where = ws.resolve(targets[dataset]) if targets[dataset] else None
        if where is None or not where.is_dir():
            log.info("transfer: no %s target data (%s); skipped", dataset, targets[dataset] or "not configured")
            continue
        if dataset == "ecg":
            x, _ = wfdb_beats(where, load_params(ws.params_path, "beats", BeatConfig), cfg.ecg_lead)
        else:
            x = bar_windows(where, load_params(ws.params_path, "windows", WindowConfig))
        model, data = _trained(ws, dataset, row["config"])
        out[dataset] = {"config": row["config"], "target": str(targets[dataset]),
                        **shift_report(model, data.part("test"), x)}  # fmt: skip
    write_text(ws.report_dir / "transfer.json", json.dumps(out, indent=2) + "\n")
    return out
