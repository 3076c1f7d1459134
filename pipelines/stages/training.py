"""The training stages: one (dataset, config) partition, or a grid of them in one vectorised pass, trained,
logged to MLflow and registered; idempotent per partition (run.json records what it was trained from).

A partition is `train.seeds` models of one config, seeded train.seed, train.seed + 1, ...: each seed is its own
MLflow run (tagged `seed`, nested under the sweep's run) and registered model version, its checkpoint at
`Workspace.checkpoint(dataset, config, seed)`; run.json lists them under `runs`.

`train_grid` reads in four phases: plan (which partitions are up to date) -> open runs (the sweep's MLflow run and
one child per config and seed) -> fit (pipelines.vae.trainer) -> record (checkpoints, histories, models registered,
run.json). A run these phases started and a failure (or an interrupt) left RUNNING is marked FAILED.
pipelines.stages.trained reads a finished partition back from its run.json without training."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipelines.dataset import TrainingSet
from pipelines.errors import ConfigError, PartialTrainingError, PipelineError, TrackingError, TrainingError
from pipelines.stages.common import locked
from pipelines.stages.datasets import DATASETS
from pipelines.stages.trained import TrainResult, checkpoint_loads, previous_run, result_of, run_info_path
from pipelines.storage import write_csv, write_text
from pipelines.tracking import Tracker
from pipelines.vae.config import TrainConfig
from pipelines.vae.regularizers import LossConfig
from pipelines.versioning import file_md5, git_commit
from pipelines.workspace import Workspace

if TYPE_CHECKING:
    from pipelines.vae.devices import World

log = logging.getLogger(__name__)

FINAL = ("epoch", "loss", "recon", "kl", "samples_per_s")  # a seed's last-epoch metrics kept in run.json


def train(ws: Workspace, dataset: str, config: str, tracker: Tracker, force: bool = False) -> TrainResult:
    """Train one (dataset, config) partition, log it to MLflow and register the model: `train_grid` of one."""
    return train_grid(ws, dataset, tracker, [config], force)[config]


def train_grid(
    ws: Workspace, dataset: str, tracker: Tracker, configs: list[str] | None = None, force: bool = False,
    world: World | None = None,
) -> dict[str, TrainResult]:  # fmt: skip
    """Train the (dataset, config) partitions of `configs` (default: the whole sweep) in one vectorised pass, each
    an MLflow run nested under the sweep's parent run, with its model registered; returns a TrainResult per config.

    Under torchrun, `world` (pipelines.vae.devices.World, from the entry point's `init_distributed`) is this
    process's rank and the number of processes: every process runs this with the same files, so all agree on what
    to train; they train it data-parallel and only rank 0 logs, registers and writes.

    Idempotent: a partition already trained from the same data (md5) with the same configs, whose checkpoint and
    MLflow run exist, is returned as it is instead of a duplicate run and registry version (training is seeded
    and a config's result does not depend on the grid it is trained in). `force` trains them all again. Two runs
    that would train the same partition at once take turns (a lock per partition), so the second finds it up to
    date instead of training and registering it a second time.
    """
    from pipelines.vae.devices import SINGLE

    if dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; expected one of {DATASETS}")
    world = world or SINGLE
    params = ws.params
    loss_cfgs = [params.loss_config(name) for name in configs] if configs else list(params.sweep)
    if not loss_cfgs:
        raise ConfigError(f"{ws.params_path}: the sweep is empty or missing; nothing to train")
    if world.size > 1:  # torchrun: every process must reach the same decision; the Dagster pool serialises
        return _train_grid(ws, dataset, tracker, loss_cfgs, force, world)
    locks = [f"train-{dataset}-{c.name}" for c in loss_cfgs]
    with locked(ws, locks, f"train {dataset} {', '.join(c.name for c in loss_cfgs)}"):
        return _train_grid(ws, dataset, tracker, loss_cfgs, force, world)


def _train_grid(ws: Workspace, dataset: str, tracker: Tracker, loss_cfgs: list[LossConfig], force: bool,
                world: World) -> dict[str, TrainResult]:  # fmt: skip
    plan = plan_training(ws, dataset, tracker, loss_cfgs, force)
    if not plan.todo:
        return plan.up_to_date
    if world.rank != 0:  # under torchrun: the other processes train alongside rank 0 and record nothing
        fit(ws, dataset, plan, world)
        return {}
    runs = Runs()
    with _failed_on_error(tracker, runs):
        open_runs(ws, dataset, tracker, plan, world, runs)
        _prepare_runs(ws, dataset, tracker, plan, runs)

        def log_epoch(member: tuple[str, int], metrics: dict) -> None:
            tracker.log_metrics(runs.members[member], metrics, step=metrics["epoch"])

        trained = fit(ws, dataset, plan, world, on_epoch=log_epoch)
        results, failures = dict(plan.up_to_date), []
        for part in plan.todo:
            failed = {seed: why for (config, seed), why in trained.failed.items() if config == part.loss_cfg.name}
            if failed:
                failures += _fail_partition(tracker, part, runs, failed)
            else:
                results[part.loss_cfg.name] = record(ws, dataset, tracker, plan, part, runs, trained)
        tracker.end_run(runs.parent)  # the sweep's run ends with its latest grid
    if failures:
        raise PartialTrainingError(f"{dataset}: {'; '.join(failures)}; the other partitions were recorded "
                                   f"({', '.join(results) or 'none'})", results)  # fmt: skip
    return results


# -- plan ------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    """A config to train: its loss config, the params its MLflow runs log, and their fingerprint with the data."""

    loss_cfg: LossConfig
    params: dict
    fingerprint: str


@dataclass
class Plan:
    """What one call trains: the training set's train split, its file and md5, the train config, the partitions
    to train (`todo`) and those already up to date (their results)."""

    data: TrainingSet
    data_path: Path
    data_md5: str
    train_cfg: TrainConfig
    todo: list[Partition] = field(default_factory=list)
    up_to_date: dict[str, TrainResult] = field(default_factory=dict)


def plan_training(ws: Workspace, dataset: str, tracker: Tracker, loss_cfgs: list[LossConfig], force: bool) -> Plan:
    """Load the training set (raises TrainingError on non-finite values) and sort the configs into up to date
    (same fingerprint, checkpoints that load, MLflow runs finished) and to train."""
    data_path = ws.training_set(dataset)
    data = TrainingSet.load(data_path).part("train")
    bad = int((~np.isfinite(data.x)).sum())
    if bad:  # the sample checks stop this upstream; a file changed behind their back must not reach MLflow either
        raise TrainingError(f"{dataset} training set {data_path}: {bad} non-finite value(s); re-run its data stages")
    plan = Plan(data, data_path, file_md5(data_path), ws.params.train)
    for loss_cfg in loss_cfgs:
        params = {
            "train": asdict(plan.train_cfg),
            "loss": asdict(loss_cfg),
            "data": {"dataset": dataset, "n_train": len(data), "length": data.x.shape[1], "factors": data.factor_names},
        }
        fingerprint = hashlib.md5(json.dumps([params, plan.data_md5], sort_keys=True).encode()).hexdigest()
        previous = previous_run(ws, dataset, loss_cfg.name, tracker)
        checkpoints = [ws.checkpoint(dataset, loss_cfg.name, s) for s in plan.train_cfg.seed_list]
        if not force and previous.get("fingerprint") == fingerprint and all(map(checkpoint_loads, checkpoints)):
            log.info("%s/%s is up to date (MLflow run %s); not retraining", dataset, loss_cfg.name, previous["run_id"])
            plan.up_to_date[loss_cfg.name] = result_of(ws, dataset, loss_cfg.name, previous, reused=True)
        else:
            plan.todo.append(Partition(loss_cfg, params, fingerprint))
    return plan


# -- open runs -------------------------------------------------------------------------------------------------------


@dataclass
class Runs:
    """The MLflow runs of one call, filled as they are started (so that a failure midway ends those it started)."""

    parent: str = ""  # the sweep's MLflow run
    members: dict[tuple[str, int], str] = field(default_factory=dict)  # (config, seed) -> its run, under the parent


def open_runs(ws: Workspace, dataset: str, tracker: Tracker, plan: Plan, world: World, runs: Runs) -> None:
    """The sweep's parent run (found again for the same train config, sweep and data) and a child run started
    for every config and seed of the plan, recorded in `runs`."""
    from pipelines.vae.devices import pick_device

    sweep_params = {"train": asdict(plan.train_cfg), "sweep": [asdict(c) for c in ws.params.sweep],
                    "data_md5": plan.data_md5}  # fmt: skip
    sweep_key = hashlib.md5(json.dumps(sweep_params, sort_keys=True).encode()).hexdigest()
    tags = {"data_md5": plan.data_md5, **system_tags(ws, pick_device(plan.train_cfg.device, world))}
    runs.parent = tracker.sweep_run(dataset, sweep_key, sweep_params, tags)
    if len(plan.todo) > 1:
        tags["trained_in_grid_of"] = str(len(plan.todo))
    for part in plan.todo:
        for seed in plan.train_cfg.seed_list:
            runs.members[(part.loss_cfg.name, seed)] = tracker.start_run(
                dataset,
                part.loss_cfg.name,
                {**part.params, "seed": seed},
                tags={**tags, "seed": str(seed)},
                parent_run_id=runs.parent,
            )


def _prepare_runs(ws: Workspace, dataset: str, tracker: Tracker, plan: Plan, runs: Runs) -> None:
    """End the runs that killed trainings of these configs left RUNNING, and log the training set as each run's
    input."""
    try:
        tracker.end_orphans(dataset, {config: run_id for (config, _), run_id in runs.members.items()})
    except TrackingError as e:  # housekeeping: the training goes on
        log.warning("could not end the runs that killed trainings left RUNNING (%s)", e)
    for run_id in runs.members.values():
        tracker.log_training_data(run_id, plan.data_path.relative_to(ws.root), plan.data_md5,
                                  name=f"{dataset}-training-set")  # fmt: skip


@contextlib.contextmanager
def _failed_on_error(tracker: Tracker, runs: Runs):
    """On any failure (or interrupt), the runs still RUNNING are marked FAILED, best effort: the store may be what
    failed."""
    try:
        yield
    except BaseException:
        for run_id in [*runs.members.values(), *([runs.parent] if runs.parent else [])]:
            with contextlib.suppress(PipelineError):
                if tracker.run_status(run_id) == "RUNNING":
                    tracker.end_run(run_id, "FAILED")
        raise


def system_tags(ws: Workspace, device) -> dict:
    """Where a run was trained: device, torch version and the git commit (MLflow's own source tag)."""
    import torch

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    tags = {"device": name, "torch_version": torch.__version__}
    commit = git_commit(ws.root)
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


# -- fit -------------------------------------------------------------------------------------------------------------


def fit(ws: Workspace, dataset: str, plan: Plan, world: World, on_epoch=None) -> dict:
    """Train the plan's partitions in one vectorised pass (pipelines.vae.trainer.train_grid); returns each
    member's model and history by (config, seed). Rank 0 keeps a resume checkpoint a killed run continues from."""
    from pipelines.vae.trainer import train_grid as train_models

    names = [part.loss_cfg.name for part in plan.todo]
    resume = ws.model_dir(dataset, names[0]) / "resume.pt" if len(names) == 1 else ws.grid_resume(dataset)
    return train_models(
        plan.data.x, plan.train_cfg, [part.loss_cfg for part in plan.todo], on_epoch=on_epoch,
        resume_path=resume if world.rank == 0 else None, seeds=plan.train_cfg.seed_list, world=world,
    )  # fmt: skip


# -- record ----------------------------------------------------------------------------------------------------------


def record(ws: Workspace, dataset: str, tracker: Tracker, plan: Plan, part: Partition, runs: Runs,
           trained: dict) -> TrainResult:  # fmt: skip
    """Save, log and register every seed of one trained partition, drop files of seeds no longer trained, and
    write its run.json; returns its TrainResult."""
    config, seeds = part.loss_cfg.name, plan.train_cfg.seed_list
    entries = []
    for seed in seeds:
        model, history = trained[(config, seed)]
        run_id = runs.members[(config, seed)]
        entries.append(_record_seed(ws, dataset, tracker, plan, part.loss_cfg, seed, run_id, model, history))
    for folder in (ws.checkpoint(dataset, config, seeds[0]).parent, ws.history(dataset, config, seeds[0]).parent):
        _remove_other_seeds(folder, seeds)
    final = {k: float(np.median([e["final"][k] for e in entries])) for k in FINAL}  # over seeds
    info = {"run_id": entries[0]["run_id"], "model_version": entries[0]["model_version"], "data_md5": plan.data_md5,
            "tracking_uri": tracker.where, "fingerprint": part.fingerprint, "final": final,
            "runs": entries}  # fmt: skip
    write_text(run_info_path(ws, dataset, config), json.dumps(info, indent=2) + "\n")
    return result_of(ws, dataset, config, info, reused=False)


def _record_seed(ws: Workspace, dataset: str, tracker: Tracker, plan: Plan, loss_cfg: LossConfig, seed: int,
                 run_id: str, model, history: list[dict]) -> dict:  # fmt: skip
    """One seed's checkpoint and history written, its model logged and registered, its run ended; its run.json
    entry."""
    from pipelines.vae.checkpoints import save_checkpoint

    save_checkpoint(ws.checkpoint(dataset, loss_cfg.name, seed), model, plan.train_cfg, loss_cfg, history)
    write_csv(ws.history(dataset, loss_cfg.name, seed), pd.DataFrame(history))
    version = tracker.log_model(run_id, model, dataset, plan.data.x[:5])
    tracker.describe_version(
        dataset, version, {"config": loss_cfg.name, "seed": seed, "data_md5": plan.data_md5},
        f"{dataset} beta-VAE, config {loss_cfg.name} ({loss_cfg.kind}), seed {seed}, trained on the "
        f"training set of DVC md5 {plan.data_md5}; test-split metrics are tagged by the metrics stage",
    )  # fmt: skip
    tracker.end_run(run_id)
    return {"seed": seed, "run_id": run_id, "model_version": version, "final": {k: history[-1][k] for k in FINAL}}


def _fail_partition(tracker: Tracker, part: Partition, runs: Runs, failed: dict[int, str]) -> list[str]:
    """End every seed's run of a partition with a diverged seed as FAILED, each with its reason (the seeds that
    finished too: a partition is registered whole or not at all); returns the reasons."""
    for (config, seed), run_id in runs.members.items():
        if config == part.loss_cfg.name:
            tracker.end_run(run_id, "FAILED", failed.get(seed, f"seed {min(failed)} of {config} diverged"))
    return list(failed.values())


def _remove_other_seeds(folder: Path, seeds: list[int]) -> None:
    """Checkpoints or histories in `folder` of seeds no longer trained (an earlier, larger train.seeds)."""
    keep = {f"seed{seed}" for seed in seeds}
    for path in folder.glob("seed*"):
        if path.stem not in keep:
            path.unlink()
