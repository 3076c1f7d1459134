"""The LUDB stages: LUDB records -> records table (with diagnoses) -> validated records -> heartbeats cut at the
cardiologists' QRS marks, with expert factors (the ludb training set). The domain code is pipelines.ecg.ludb."""

from __future__ import annotations

import pandas as pd

from pipelines.ecg.ludb import ingest_ludb, segment_ludb
from pipelines.errors import DataValidationError
from pipelines.quarantine import write_quarantine
from pipelines.stages.common import StageResult, data_stage, samples_result
from pipelines.stages.sources import fetch, source
from pipelines.storage import write_parquet
from pipelines.validation.ecg import validate_records
from pipelines.workspace import Workspace


@data_stage("ludb")
def ludb_ingest(ws: Workspace) -> StageResult:
    src, only, rejects = fetch(ws, "ludb")
    records, ingest_rejects = ingest_ludb(src.directory, only)
    rejects = rejects + ingest_rejects
    write_quarantine(ws.quarantine("ludb_ingest"), rejects)
    out = write_parquet(ws.ludb_records, records)
    return StageResult(out, {"records": len(records), "patients": records.patient.nunique()}, rejects)


@data_stage("ludb")
def ludb_validate(ws: Workspace) -> StageResult:
    cfg = ws.params.ludb_validation
    records = pd.read_parquet(ws.ludb_records)
    good, rejects, suite = validate_records(records, source(ws, "ludb").directory, list(ws.params.ludb.leads), cfg)
    write_quarantine(ws.quarantine("ludb_validation"), rejects)
    out = write_parquet(ws.ludb_records_validated, good)
    counts = {"records_in": len(records), "records_valid": len(good), "quarantined": len(rejects)}
    gate = f"{len(good)} good records of {len(records)}, need {cfg.min_good_records}"
    return StageResult(out, counts, rejects, suite, passed=len(good) >= cfg.min_good_records, gate=gate)


@data_stage("ludb")
def ludb_beats(ws: Workspace) -> StageResult:
    records = pd.read_parquet(ws.ludb_records_validated)
    if records.empty:
        raise DataValidationError(f"{ws.ludb_records_validated}: no validated records to segment")
    beats, rejects = segment_ludb(records, source(ws, "ludb").directory, ws.params.beats, ws.params.ludb)
    write_quarantine(ws.quarantine("ludb_beats"), rejects)
    out = beats.save(ws.training_set("ludb"))
    return samples_result(ws.params.heartbeat_checks, "ludb_beats", beats, out, rejects)
