"""The LUDB stages on real LUDB records (issue 26): ingest with diagnoses, validation, beats cut at the marked QRS
peaks with expert factors, a lead without marks and a truncated record set aside with their reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines import stages
from pipelines.dataset import TrainingSet
from pipelines.ecg.beats import pre_r_samples
from pipelines.ecg.ludb import FACTOR_NAMES, LEADS
from pipelines.ecg.records import read_signal
from pipelines.workspace import Workspace
from tests.conftest import TINY, ludb_copy, write_params


@pytest.fixture
def ludb_ws(tmp_path):
    """A workspace whose sources.ludb holds LUDB records 1-3; record 2 lacks its v6 marks, record 3's signal is
    truncated."""
    source = ludb_copy(tmp_path / "ludb", ("data/1", "data/2", "data/3"))
    (source / "data" / "2.v6").unlink()
    dat = source / "data" / "3.dat"
    dat.write_bytes(dat.read_bytes()[:1000])
    return Workspace(tmp_path, write_params(tmp_path, {**TINY, "sources": {"ludb": str(source)}}))


def test_ludb_stages_cut_beats_at_the_marked_peaks_with_expert_factors(ludb_ws):
    ws = ludb_ws
    ingest = stages.ludb_ingest(ws)
    assert [(r.item, "truncated" in r.reason) for r in ingest.rejects] == [("data/3", True)]
    records = pd.read_parquet(ws.ludb_records).set_index("record")
    assert records.loc["data/1", ["patient", "diagnosis", "lvh", "ischemia", "age", "sex"]].tolist() == [
        "1", "Sinus bradycardia", True, False, 51, "F"]  # fmt: skip
    assert records.loc["data/2", "diagnosis"] == "Sinus rhythm" and not records.loc["data/2", "ischemia"]
    assert stages.ludb_validate(ws).counts["records_valid"] == 2

    result = stages.ludb_beats(ws)
    assert result.passed
    assert [r.item for r in result.rejects if r.reason.startswith("data/2: no readable 'v6' annotations")] == [
        "data/2:v6"]  # fmt: skip
    data = TrainingSet.load(ws.training_set("ludb"))
    assert data.factor_names == FACTOR_NAMES and data.factor_kind == "expert"
    leads = data.labels.groupby("record").lead.unique()
    assert sorted(leads["data/1"]) == sorted(LEADS) and "v6" not in leads["data/2"] and len(leads["data/2"]) == 11

    # record 1, lead ii (read off the .ii file by hand): QRS ( 1324 N 1342 ) 1374, its P ( 1250 p 1278
    ii = (data.labels.record == "data/1") & (data.labels.lead == "ii")
    row = np.flatnonzero(ii & (data.labels.r_sample == 1342))[0]
    factors = dict(zip(data.factor_names, data.factors[row], strict=True))
    signal, _ = read_signal(ws.params.sources.ludb, "data/1", ["ii"])
    assert factors["qrs_s"] == (1374 - 1324) / 500 and factors["pr_s"] == (1324 - 1250) / 500
    assert factors["p_amp"] == signal[1278, 0] - signal[1324, 0]
    assert factors["lead"] == LEADS.index("ii") and factors["rr_s"] > 0

    # its first beat, whose P wave lies before the record starts, stays in the set without P factors
    first = np.flatnonzero(ii & (data.labels.r_sample == 662))[0]
    missing = dict(zip(data.factor_names, np.isnan(data.factors[first]), strict=True))
    assert missing == {name: name in ("pr_s", "p_amp") for name in FACTOR_NAMES}
    # the cut beat has its R peak on sample `pre` of the window: its QRS lies where the marks say
    pre = pre_r_samples(ws.params.beats)
    beat = data.x[row, : len(data.axis)]
    assert data.axis[pre] == 0.0 and abs(beat[pre]) == pytest.approx(np.abs(beat[pre - 5 : pre + 6]).max(), rel=0.2)
    assert data.labels.assign(split=data.split).groupby("patient").split.nunique().eq(1).all()  # split by subject


def test_without_its_directory_ludb_is_not_available_and_ingest_says_why(tmp_path):
    ws = Workspace(tmp_path, write_params(tmp_path, {**TINY, "sources": {"ludb": str(tmp_path / "absent")}}))
    assert "ludb" not in stages.available(ws) and {"ecg", "btc"} <= set(stages.available(ws))
    with pytest.raises(Exception, match="absent: ECG source directory not found"):
        stages.ludb_ingest(ws)
