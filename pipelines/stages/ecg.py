"""The ECG stages: WFDB records -> records table -> validated records -> heartbeats (the ECG training set)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipelines.ecg.beats import segment_beats
from pipelines.ecg.records import ingest_records
from pipelines.errors import DataValidationError
from pipelines.quarantine import Reject, write_quarantine
from pipelines.stages.common import StageResult, data_stage, samples_result
from pipelines.stages.sources import fetch, source
from pipelines.storage import write_parquet
from pipelines.validation.ecg import RecordChecksConfig, validate_records
from pipelines.workspace import Workspace

if TYPE_CHECKING:
    from pipelines.dataset import TrainingSet
    from pipelines.evaluation.config import TransferConfig


@data_stage("ecg")
def ingest_ecg(ws: Workspace) -> StageResult:
    return ingest_wfdb(ws, "ecg", ingest_records, ws.ecg_records)


@data_stage("ecg")
def validate_ecg(ws: Workspace) -> StageResult:
    leads = list(ws.params.beats.leads)
    return validate_wfdb(ws, "ecg", ws.params.ecg_validation, leads, ws.ecg_records, ws.ecg_records_validated)


def ingest_wfdb(ws: Workspace, dataset: str, read: Callable, out: Path) -> StageResult:
    """The ingest stage of a WFDB dataset (ecg, ludb): its source fetched, its records table read by `read`
    (source directory, records or None -> table, rejects) and written to `out`, the rejects quarantined."""
    src, only, rejects = fetch(ws, dataset)
    records, ingest_rejects = read(src.directory, only)
    rejects = rejects + ingest_rejects
    write_quarantine(ws.quarantine(f"{dataset}_ingest"), rejects)
    out = write_parquet(out, records)
    return StageResult(out, {"records": len(records), "patients": records.patient.nunique()}, rejects)


def validate_wfdb(ws: Workspace, dataset: str, cfg: RecordChecksConfig, leads: list[str], records_path: Path,
                  out: Path) -> StageResult:  # fmt: skip
    """The validate stage of a WFDB dataset: the records table at `records_path` through the Great Expectations
    record suite (`cfg`, the `leads` it reads), the good ones written to `out`, the others quarantined."""
    records = pd.read_parquet(records_path)
    good, rejects, suite = validate_records(records, source(ws, dataset).directory, leads, cfg)
    write_quarantine(ws.quarantine(f"{dataset}_validation"), rejects)
    out = write_parquet(out, good)
    counts = {"records_in": len(records), "records_valid": len(good), "quarantined": len(rejects)}
    gate = f"{len(good)} good records of {len(records)}, need {cfg.min_good_records}"
    return StageResult(out, counts, rejects, suite, passed=len(good) >= cfg.min_good_records, gate=gate)


@data_stage("ecg")
def heartbeats(ws: Workspace) -> StageResult:
    records = pd.read_parquet(ws.ecg_records_validated)
    if records.empty:
        raise DataValidationError(f"{ws.ecg_records_validated}: no validated records to segment")
    beats, rejects = segment_beats(records, source(ws, "ecg").directory, ws.params.beats)
    write_quarantine(ws.quarantine("heartbeats"), rejects)
    out = beats.save(ws.heartbeats)
    return samples_result(ws.params.heartbeat_checks, "heartbeats", beats, out, rejects)


def ecg_samples(ws: Workspace, where: Path) -> tuple[TrainingSet, list[Reject]]:
    """The heartbeats of the WFDB records in `where`, through the pipeline's own ingest, validation and beat recipe
    (params.yaml), writing nothing; every record or beat set aside is a reject."""
    records, rejects = ingest_records(where)
    good, invalid, _ = validate_records(records, where, list(ws.params.beats.leads), ws.params.ecg_validation)
    beats, cut = segment_beats(good, where, ws.params.beats)
    return with_beat_times(beats, good), rejects + invalid + cut


def with_beat_times(beats: TrainingSet, records: pd.DataFrame) -> TrainingSet:
    """`beats` with each beat's `beat_time_s` label: its R peak's time in its record (rate from `records`)."""
    beats.labels["beat_time_s"] = beats.labels.r_sample / beats.labels.record.map(records.set_index("record").fs_hz)
    return beats


def transfer_beats(ws: Workspace, where: Path, cfg: TransferConfig) -> np.ndarray:
    """Heartbeats (N, L) of lead `cfg.ecg_lead` cut by the `beats` recipe from the WFDB records in `where`: the
    data the report's ECG champion is reused on."""
    from pipelines.evaluation.transfer import wfdb_beats  # here: it imports torch

    x, _ = wfdb_beats(where, ws.params.beats, cfg.ecg_lead)
    return x
