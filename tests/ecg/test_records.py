"""WFDB ingest: the real PTB records in ../shared/data and synthetic records read through the same code."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from pipelines.ecg.records import ingest_records, parse_comments, read_signal
from pipelines.errors import IngestError
from pipelines.synthetic.ecg import SyntheticEcgConfig, generate_ecg
from tests.conftest import shared

PTB_PRESENT = {"patient001/s0010_re", "patient001/s0014lre", "patient001/s0016lre", "patient002/s0015lre",
               "patient104/s0306lre", "patient105/s0303lre"}  # fmt: skip


def test_real_ptb_records_ingest_with_header_metadata():
    records, rejects = ingest_records(shared("ptbdb"))
    assert set(records.record) == PTB_PRESENT
    row = records.set_index("record").loc["patient001/s0010_re"]
    assert (row.fs_hz, row.n_samples, row.age, row.sex) == (1000.0, 38400, 81.0, "female")
    assert row.diagnosis == "Myocardial infarction" and not row.healthy
    assert row.leads.split(",") == ["i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6",
                                    "vx", "vy", "vz"]  # fmt: skip
    assert records.set_index("record").loc["patient104/s0306lre"].healthy  # listed in CONTROLS
    # RECORDS lists all 549 PTB records; the ones without files are quarantined with the reason, not dropped
    assert len(rejects) == 549 - len(PTB_PRESENT)
    assert all("listed in RECORDS but its .hea file is missing" == r.reason for r in rejects)


def test_a_record_dropped_in_without_its_line_in_records_is_quarantined_with_the_reason(tmp_path):
    source = tmp_path / "inbox"
    for record in ("patient001/s0010_re", "patient104/s0306lre"):
        patient, name = record.split("/")
        (source / patient).mkdir(parents=True)
        for path in shared("ptbdb", patient).glob(f"{name}.*"):
            shutil.copy(path, source / patient)
    (source / "RECORDS").write_text("patient001/s0010_re\n")  # patient104's record arrived, unlisted
    records, rejects = ingest_records(source)
    assert list(records.record) == ["patient001/s0010_re"]
    [reject] = rejects
    assert reject.item == "patient104/s0306lre" and reject.reason.startswith("not listed in RECORDS")


def test_real_ptb_signal_is_in_millivolts_with_named_leads():
    signal, leads = read_signal(shared("ptbdb"), "patient001/s0010_re", ["II", "vx"])
    assert leads == ["ii", "vx"] and signal.shape == (38400, 2)
    assert 0.5 < np.ptp(signal[:, 0]) < 10  # a QRS complex is around 1 mV, not 1000 (µV) or 0.001 (V)


def test_missing_lead_is_an_ingest_error_naming_record_and_lead():
    with pytest.raises(IngestError, match=r"patient001/s0010_re: lead\(s\) \['v7'\] not in record"):
        read_signal(shared("ptbdb"), "patient001/s0010_re", ["v7"])


def test_synthetic_records_read_like_ptb(tmp_path):
    cfg = SyntheticEcgConfig(n_patients=3, duration_s=12.0)
    generate_ecg(tmp_path / "ecg", cfg)
    records, rejects = ingest_records(tmp_path / "ecg")
    assert rejects == [] and len(records) == 3
    assert set(records.diagnosis) <= {"Myocardial infarction", "Healthy control"}
    assert (records.healthy == (records.diagnosis == "Healthy control")).all()
    signal, leads = read_signal(tmp_path / "ecg", records.record[0])
    assert leads == ["i", "ii", "v2"] and signal.shape == (12000, 3)


def test_header_comments_parse_key_value_lines():
    meta = parse_comments(["age: 81", "sex: female", "Diagnose:", "Reason for admission: Myocardial infarction"])
    assert meta == {
        "age": "81",
        "sex": "female",
        "diagnose": "",
        "reason for admission": "Myocardial infarction",
    }
