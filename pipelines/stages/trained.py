"""What a finished training left: each partition's run.json (its data md5, fingerprint and, per seed, the MLflow
run, registered model version and final metrics) and the TrainResult read back from it. The evaluation and report
stages and the Dagster assets read trainings here instead of calling the training stage again."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.errors import TrainingError
from pipelines.stages.common import StageResult
from pipelines.tracking import Tracker
from pipelines.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class TrainResult(StageResult):
    """A trained partition: its first seed's checkpoint (`output`), the final metrics' medians over seeds
    (`counts`), and from run.json its MLflow runs and registered versions."""

    run_id: str = ""  # the first seed's MLflow run
    model_version: str = ""  # the first seed's registered version
    data_md5: str = ""  # DVC md5 of the training set it was trained on
    runs: list[dict] = field(default_factory=list)  # per seed: seed, run_id, model_version, final
    reused: bool = False  # up to date: this call trained nothing and returns the earlier training


def run_info_path(ws: Workspace, dataset: str, config: str) -> Path:
    return ws.model_dir(dataset, config) / "run.json"


def run_info(ws: Workspace, dataset: str, config: str) -> dict:
    """Data md5, fingerprint and `runs` (one per seed: seed, MLflow run id, registered version, final epoch) of a
    trained partition; `run_id` and `model_version` are its first seed's."""
    return json.loads(run_info_path(ws, dataset, config).read_text())


def seed_run(info: dict, seed: int) -> dict:
    """The entry of `runs` in a partition's run.json for `seed`."""
    return next(r for r in info["runs"] if r["seed"] == seed)


def trained_result(ws: Workspace, dataset: str, config: str, reused: bool = True) -> TrainResult:
    """The result of a partition trained earlier, read from its run.json (nothing is trained)."""
    return result_of(ws, dataset, config, run_info(ws, dataset, config), reused)


def result_of(ws: Workspace, dataset: str, config: str, info: dict, reused: bool) -> TrainResult:
    """The TrainResult of a partition whose run.json holds `info`."""
    return TrainResult(
        ws.checkpoint(dataset, config, info["runs"][0]["seed"]), info["final"], run_id=info["run_id"],
        model_version=info["model_version"], data_md5=info["data_md5"], runs=info["runs"], reused=reused,
    )  # fmt: skip


def checkpoint_loads(path: Path) -> bool:
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


def previous_run(ws: Workspace, dataset: str, config: str, tracker: Tracker) -> dict:
    """run.json of the partition's last training if its MLflow run still exists in this tracker, else {}."""
    path = run_info_path(ws, dataset, config)
    if not path.is_file():
        return {}
    info = json.loads(path.read_text())
    runs = info.get("runs", [])
    if info.get("tracking_uri") != tracker.where or not runs:
        return {}
    if any(tracker.run_status(r["run_id"]) != "FINISHED" for r in runs):
        return {}
    return info
