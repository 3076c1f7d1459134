"""The datasets, each described once: what differs between the ECG (synthetic or PTB), the LUDB (real annotated
heartbeats) and the exchange pipeline (its stages, the files of its source, the data its champion is reused on),
so the code that runs over all of them looks them up here instead of listing them again. Adding a dataset means
writing its stages and one DatasetSpec.

The DVC stage names (dvc.yaml) of the data and model stages are made here too (`stages()`, `model_stage`), so the
Dagster assets that commit a stage's outputs and the CLI name them the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipelines.dataset import TrainingSet
from pipelines.ecg.ludb import LEADS
from pipelines.quarantine import Reject
from pipelines.stages import btc, ecg, ludb, sources
from pipelines.stages.common import StageResult, locked
from pipelines.workspace import Workspace

if TYPE_CHECKING:
    from pipelines.evaluation.config import TransferConfig

Stage = Callable[[Workspace], StageResult]


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # data/<name>/, the MLflow model <name>-beta-vae, the stage names <name>-ingest, ...
    ingest: Stage  # source -> raw table, data/<name>/...parquet
    validate: Stage  # raw table -> validated table (Great Expectations), the rest quarantined
    segment: Stage  # validated table -> the training set, data/<name>/training_set.npz
    segment_stage: str  # the segment stage's name in dvc.yaml and the CLI
    source_files: tuple[str, ...]  # globs of the data files in a source directory (the inbox sensor's fingerprint)
    # the samples (and the rejects) of raw data elsewhere, by the same ingest, validation and recipe: `encode`
    read_samples: Callable[[Workspace, Path], tuple[TrainingSet, list[Reject]]]
    # the `transfer` path of the data the champion is reused on, and the (N, L) samples cut from it (None: none)
    transfer_target: Callable[[TransferConfig], str] | None = None
    transfer_samples: Callable[[Workspace, Path, TransferConfig], np.ndarray] | None = None

    def stages(self) -> dict[str, Stage]:
        """The dataset's data stages by their dvc.yaml (and CLI) name, in the order they run (a dataset with
        embedded synthetic data generates it first)."""
        generates = {f"{self.name}-generate": functools.partial(generate, datasets=(self.name,))}
        return {
            **(generates if self.name in sources.SYNTHETIC else {}),
            f"{self.name}-ingest": self.ingest,
            f"{self.name}-validate": self.validate,
            self.segment_stage: self.segment,
        }


DATASET_SPECS = {
    "ecg": DatasetSpec(
        name="ecg", source_files=("*.hea", "*.dat", "RECORDS", "CONTROLS"),
        ingest=ecg.ingest_ecg, validate=ecg.validate_ecg, segment=ecg.heartbeats, segment_stage="heartbeats",
        read_samples=ecg.ecg_samples,
        transfer_target=lambda cfg: cfg.ecg_wfdb, transfer_samples=ecg.transfer_beats,
    ),
    "btc": DatasetSpec(
        name="btc", source_files=("*.csv", "*.zip", "*.parquet"),
        ingest=btc.ingest_btc, validate=btc.validate_btc, segment=btc.price_windows, segment_stage="windows",
        read_samples=btc.btc_samples,
        transfer_target=lambda cfg: cfg.btc_bars, transfer_samples=btc.transfer_windows,
    ),
    "ludb": DatasetSpec(
        name="ludb", source_files=("*.hea", "*.dat", "RECORDS", *(f"*.{lead}" for lead in LEADS)),
        ingest=ludb.ludb_ingest, validate=ludb.ludb_validate, segment=ludb.ludb_beats, segment_stage="ludb-beats",
        read_samples=ludb.ludb_samples,
    ),
}  # fmt: skip
DATASETS = tuple(DATASET_SPECS)


def available(ws: Workspace) -> tuple[str, ...]:
    """The datasets whose source is there (pipelines.stages.sources.Source.available): ludb only when its
    directory is present or it is downloaded."""
    return tuple(d for d in DATASETS if sources.source(ws, d).available)


def generate(ws: Workspace, datasets: tuple[str, ...] = sources.SYNTHETIC) -> StageResult:
    """Generate the embedded default data of the datasets (a no-op where it is current)."""
    with locked(ws, [f"{d}-data" for d in datasets], "generate"):
        made = [sources.generate(ws, d) for d in datasets]
        return StageResult(output=made[0])


def model_stage(stage: str, dataset: str, config: str) -> str:
    """The dvc.yaml name of a model stage (`train`, `traversals` or `metrics`) of one partition: its foreach key
    is <dataset>-<config>."""
    return f"{stage}@{dataset}-{config}"
