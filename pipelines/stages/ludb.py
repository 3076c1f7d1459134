"""The LUDB stages: LUDB records -> records table (with diagnoses) -> validated records -> heartbeats cut at the
cardiologists' QRS marks, with expert factors (the ludb training set). The domain code is pipelines.ecg.ludb."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.dataset import TrainingSet
from pipelines.ecg.ludb import ingest_ludb, segment_ludb
from pipelines.errors import DataValidationError
from pipelines.quarantine import Reject, write_quarantine
from pipelines.stages.common import StageResult, data_stage, samples_result
from pipelines.stages.ecg import ingest_wfdb, validate_wfdb, with_beat_times
from pipelines.stages.sources import source
from pipelines.validation.ecg import validate_records
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


def ludb_samples(ws: Workspace, where: Path) -> tuple[TrainingSet, list[Reject]]:
    """The beats of the LUDB-layout records in `where` (cut at their QRS marks), through the pipeline's own
    ingest, validation and beat recipe, writing nothing; every record, lead or beat set aside is a reject."""
    records, rejects = ingest_ludb(where)
    good, invalid, _ = validate_records(records, where, list(ws.params.ludb.leads), ws.params.ludb_validation)
    beats, cut = segment_ludb(good, where, ws.params.beats, ws.params.ludb)
    return with_beat_times(beats, good), rejects + invalid + cut
