"""The LUDB stages: LUDB records -> records table (with diagnoses) -> validated records -> heartbeats cut at the
cardiologists' QRS marks, with expert factors (the ludb training set). The domain code is pipelines.ecg.ludb."""

from __future__ import annotations

import pandas as pd

from pipelines.ecg.ludb import ingest_ludb, segment_ludb
from pipelines.errors import DataValidationError
from pipelines.quarantine import write_quarantine
from pipelines.stages.common import StageResult, data_stage, samples_result
from pipelines.stages.ecg import ingest_wfdb, validate_wfdb
from pipelines.stages.sources import source
from pipelines.workspace import Workspace


@data_stage("ludb")
def ludb_ingest(ws: Workspace) -> StageResult:
    return ingest_wfdb(ws, "ludb", ingest_ludb, ws.ludb_records)


@data_stage("ludb")
def ludb_validate(ws: Workspace) -> StageResult:
    leads = list(ws.params.ludb.leads)
    return validate_wfdb(ws, "ludb", ws.params.ludb_validation, leads, ws.ludb_records, ws.ludb_records_validated)


@data_stage("ludb")
def ludb_beats(ws: Workspace) -> StageResult:
    records = pd.read_parquet(ws.ludb_records_validated)
    if records.empty:
        raise DataValidationError(f"{ws.ludb_records_validated}: no validated records to segment")
    beats, rejects = segment_ludb(records, source(ws, "ludb").directory, ws.params.beats, ws.params.ludb)
    write_quarantine(ws.quarantine("ludb_beats"), rejects)
    out = beats.save(ws.training_set("ludb"))
    return samples_result(ws.params.heartbeat_checks, "ludb_beats", beats, out, rejects)
