"""Bad ECG input: each fault gives a reject naming the record and the reason, and the other records go on."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from pipelines.ecg.records import ingest_records
from pipelines.validation.ecg import RecordChecksConfig, validate_records
from tests.conftest import shared

GOOD = ["patient001/s0014lre", "patient104/s0306lre", "patient105/s0303lre"]


@pytest.fixture
def source(tmp_path):
    """A writable PTB-layout copy holding three good records and the records each test breaks."""
    src = tmp_path / "ptb"
    for patient in ("patient001", "patient002", "patient104", "patient105"):
        shutil.copytree(shared("ptbdb", patient), src / patient)
    for path in src.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (src / "RECORDS").write_text("\n".join([*GOOD, "patient002/s0015lre"]) + "\n")
    return src


def write_record(src, name: str, signal: np.ndarray, leads: list[str]):
    import wfdb

    (src / "patient900").mkdir(exist_ok=True)
    n = len(leads)
    wfdb.wrsamp(name, fs=1000, units=["mV"] * n, sig_name=leads, p_signal=signal, fmt=["16"] * n,
                adc_gain=[2000.0] * n, baseline=[0] * n, write_dir=str(src / "patient900"))  # fmt: skip
    with open(src / "RECORDS", "a") as f:
        f.write(f"patient900/{name}\n")


def ecg_like(n: int = 20_000, leads: int = 2) -> np.ndarray:
    """A 1 mV spike every 0.8 s plus 20 µV noise: passes every check of the suite."""
    t = np.arange(n) / 1000.0
    beat = np.exp(-0.5 * ((t % 0.8 - 0.4) / 0.01) ** 2) * (1 + 0.05 * np.sin(t))  # peaks differ a little
    noise = np.random.default_rng(0).normal(0, 0.02, (n, leads))
    return beat[:, None] + noise


def ingest_and_validate(src):
    records, ingest_rejects = ingest_records(src)
    good, rejects, _ = validate_records(records, src, ["ii"], RecordChecksConfig())
    return set(good.record), {r.item: r.reason for r in ingest_rejects + rejects}


def test_truncated_dat_is_rejected_with_byte_counts(source):
    dat = source / "patient002" / "s0015lre.dat"
    dat.write_bytes(dat.read_bytes()[:100_000])
    good, reasons = ingest_and_validate(source)
    assert good == set(GOOD)
    assert reasons["patient002/s0015lre"] == (
        "patient002/s0015lre: header says 115200 samples x 12 signals (2764800 bytes) but s0015lre.dat holds "
        "100000 bytes (4166 samples): truncated or wrong header"
    )


def test_header_sample_count_disagreeing_with_the_file_is_rejected(source):
    hea = source / "patient002" / "s0015lre.hea"
    hea.write_text(hea.read_text().replace("s0015lre 15 1000 115200", "s0015lre 15 1000 100000", 1))
    good, reasons = ingest_and_validate(source)
    assert good == set(GOOD)
    assert "header says 100000 samples" in reasons["patient002/s0015lre"]


def test_missing_header_is_rejected_by_name(source):
    (source / "patient002" / "s0015lre.hea").unlink()
    good, reasons = ingest_and_validate(source)
    assert good == set(GOOD)
    assert reasons["patient002/s0015lre"] == "listed in RECORDS but its .hea file is missing"


def test_missing_signal_file_is_rejected_by_name(source):
    (source / "patient002" / "s0015lre.xyz").unlink()
    good, reasons = ingest_and_validate(source)
    assert reasons["patient002/s0015lre"] == "patient002/s0015lre: signal file s0015lre.xyz is missing"
    assert good == set(GOOD)


def test_nan_lead_is_quarantined(source):
    signal = ecg_like()
    signal[5000:6000, 1] = np.nan  # WFDB stores NaN as the format's invalid-sample value
    write_record(source, "s9001nan", signal, ["i", "ii"])
    good, reasons = ingest_and_validate(source)
    assert reasons["patient900/s9001nan"] == "contains NaN samples"
    assert set(GOOD) <= good


def test_flat_lead_is_quarantined(source):
    signal = ecg_like()
    signal[:, 1] = 0.25
    write_record(source, "s9002flat", signal, ["i", "ii"])
    good, reasons = ingest_and_validate(source)
    assert "a lead is flat in more than 20% of samples" in reasons["patient900/s9002flat"]
    assert set(GOOD) <= good


def test_unknown_lead_name_is_quarantined_with_the_name(source):
    write_record(source, "s9003odd", ecg_like(), ["ii", "lead7"])
    good, reasons = ingest_and_validate(source)
    assert reasons["patient900/s9003odd"] == "unknown lead name(s) ['lead7']"
    assert set(GOOD) <= good


def test_required_lead_missing_names_the_lead(source):
    write_record(source, "s9004noii", ecg_like(), ["i", "v1"])
    good, reasons = ingest_and_validate(source)
    assert reasons["patient900/s9004noii"] == "patient900/s9004noii: lead(s) ['ii'] not in record (has ['i', 'v1'])"
