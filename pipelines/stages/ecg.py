"""The ECG stages: WFDB records -> records table -> validated records -> heartbeats (the ECG training set)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipelines.ecg.beats import segment_beats
from pipelines.ecg.records import ingest_records
from pipelines.errors import DataValidationError
from pipelines.quarantine import write_quarantine
from pipelines.stages.common import StageResult, data_stage, samples_result
from pipelines.stages.sources import fetch, source
from pipelines.storage import write_parquet
from pipelines.validation.ecg import validate_records
from pipelines.workspace import Workspace

if TYPE_CHECKING:
    from pipelines.evaluation.config import TransferConfig


@data_stage("ecg")
def ingest_ecg(ws: Workspace) -> StageResult:
    src, only, rejects = fetch(ws, "ecg")
    records, ingest_rejects = ingest_records(src.directory, only)
    rejects = rejects + ingest_rejects
    write_quarantine(ws.quarantine("ecg_ingest"), rejects)
    out = write_parquet(ws.ecg_records, records)
    return StageResult(out, {"records": len(records), "patients": records.patient.nunique()}, rejects)


@data_stage("ecg")
def validate_ecg(ws: Workspace) -> StageResult:
    cfg = ws.params.ecg_validation
    records = pd.read_parquet(ws.ecg_records)
    good, rejects, suite = validate_records(records, source(ws, "ecg").directory, list(ws.params.beats.leads), cfg)
    write_quarantine(ws.quarantine("ecg_validation"), rejects)
    out = write_parquet(ws.ecg_records_validated, good)
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


def transfer_beats(ws: Workspace, where: Path, cfg: TransferConfig) -> np.ndarray:
    """Heartbeats (N, L) of lead `cfg.ecg_lead` cut by the `beats` recipe from the WFDB records in `where`: the
    data the report's ECG champion is reused on."""
    from pipelines.evaluation.transfer import wfdb_beats  # here: it imports torch

    x, _ = wfdb_beats(where, ws.params.beats, cfg.ecg_lead)
    return x
