"""The LUDB stages on real LUDB records (issue 26): ingest with diagnoses, validation, beats cut at the marked QRS
peaks with expert factors, a lead without marks and a truncated record set aside with their reasons."""

from __future__ import annotations

import re

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


def test_the_report_judges_ludb_models_against_the_marks(ludb_ws):
    """Trained and scored on LUDB beats, a partition reports each factor's MIG, the MIG without heart rate, the
    diagnosis probes with standard errors, no intervention scores, and the oracle beside PCA; the report's real-data
    section says which latent carries each factor."""
    import json

    from pipelines.tracking import tracker_for

    ws = ludb_ws
    for stage in (stages.ludb_ingest, stages.ludb_validate, stages.ludb_beats):
        stage(ws)
    tracker = tracker_for(ws.root)
    stages.train(ws, "ludb", "b16_c0", tracker)
    summary = stages.metrics(ws, "ludb", "b16_c0", tracker).summary
    stages.traversals(ws, "ludb", "b16_c0", tracker)
    assert summary["headline"] == "mig" and "beta_vae_eval" not in summary and "factor_vae_eval" not in summary
    assert set(f"mig__{f}" for f in FACTOR_NAMES) <= set(summary) and np.isfinite(summary["mig_non_rr"])
    gaps = [summary[f"mig__{f}"] for f in FACTOR_NAMES if f != "rr_s"]
    assert summary["mig_non_rr"] == pytest.approx(np.nanmedian([np.nanmean(
        [s[f"mig__{f}"] for f in FACTOR_NAMES if f != "rr_s"]) for s in summary["seeds"]]))  # fmt: skip
    assert len(gaps) == 6 and len(summary["seeds"][0]["mig_top_code"]) == len(FACTOR_NAMES)
    stages.report(ws, tracker)
    page = (ws.report_dir / "index.html").read_text()
    assert "ludb: against the cardiologists&#x27; marks" in page or "ludb: against the cardiologists' marks" in page
    assert "factors (oracle)" in page and "MIG w/o RR" in page
    assert re.search(r"QRS duration</b>: (z\d|no latent alone \(the most information: z\d)", page)
    table = pd.read_csv(ws.report_dir / "sweep.csv")
    oracle = table[(table.dataset == "ludb") & (table.config == "factors (oracle)")].iloc[0]
    assert oracle.mig > table[(table.dataset == "ludb") & (table.config == "PCA-10")].iloc[0].mig
    assert json.loads((ws.eval_dir("ludb", "b16_c0") / "metrics.json").read_text())["factor_kind"] == "expert"
