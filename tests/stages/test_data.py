"""The data stages: quarantine files, blocking checks, counts, their log."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pandas as pd

from pipelines import stages
from pipelines.quarantine import Reject, summarize
from tests.conftest import REPO, TINY, shared, write_params


def test_each_data_stage_writes_its_quarantine_file(ecg_ws):
    for name in ("ecg_ingest", "ecg_validation", "heartbeats"):
        assert list(pd.read_csv(ecg_ws.quarantine(name)).columns) == ["item", "reason"]


def test_a_failed_blocking_check_says_what_it_saw_against_what_it_needs(ecg_ws):
    n_train = stages.heartbeats(ecg_ws).counts["train"]
    write_params(ecg_ws.root, {**TINY, "heartbeat_checks": {"min_train_samples": 100_000}})
    result = stages.heartbeats(ecg_ws)
    assert not result.passed and result.gate == f"{n_train} train samples, need 100000"
    write_params(ecg_ws.root, {**TINY, "ecg_validation": {"min_good_records": 99}})
    result = stages.validate_ecg(ecg_ws)
    assert not result.passed and result.gate == "4 good records of 4, need 99"


def test_the_quarantine_table_puts_the_one_real_problem_above_hundreds_of_routine_entries():
    rejects = [Reject(f"patient{i:03d}/s{i:04d}", "listed in RECORDS but its .hea file is missing", routine=True)
               for i in range(543)]  # fmt: skip
    rejects.insert(200, Reject("patient104/s0306lre", "not listed in RECORDS"))
    rejects += [Reject(f"r{i}:ii@{i}", "flat (peak-to-peak < 0.1 mV)") for i in range(5)]
    lines = summarize(rejects).splitlines()
    assert lines[2] == "| not listed in RECORDS | 1 | patient104/s0306lre |"
    assert lines[3] == "| flat (peak-to-peak < 0.1 mV) | 5 | r0:ii@0, r1:ii@1, r2:ii@2, … |"
    assert lines[4].startswith("| listed in RECORDS but its .hea file is missing (routine) | 543 | patient000/s0000")
    assert len(lines) == 5


def test_windows_per_day_counts_days_with_bars_not_the_gap_between_them(tiny_ws):
    inbox = tiny_ws.root / "inbox"
    inbox.mkdir()
    shutil.copy(shared("exchange", "20170903_trade.zip"), inbox)
    shutil.copy(shared("exchange", "20170904_trade.zip"), inbox / "20171004_trade.zip")  # a month later
    write_params(tiny_ws.root, {**TINY, "sources": {"ecg": "synthetic", "btc": str(inbox)}})
    for stage in (stages.ingest_btc, stages.validate_btc):
        stage(tiny_ws)
    counts = stages.price_windows(tiny_ws).counts
    assert counts["days_with_bars"] == 2 and counts["windows_per_day"] == 8.0  # 1440 / 180 minutes, each day


def test_great_expectations_does_not_flood_the_log_on_import():
    """GX logs each of ~200 functions at INFO as it registers them on import; a suite run logs none of that."""
    code = (
        "import logging, pandas as pd; logging.basicConfig(level=logging.INFO)\n"
        "from pipelines.validation.expectations import Check, run_suite\n"
        "check = Check('ExpectColumnValuesToNotBeNull', {'column': 'a'}, 'x')\n"
        "r = run_suite('t', pd.DataFrame({'a': [1, 2]}), [check])\n"
        "assert r.success\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Skipping registering function" not in done.stderr + done.stdout
