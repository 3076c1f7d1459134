"""`make bench` runs: the training benchmark, on a tiny problem, prints every row and figure it promises (the
figures themselves are for benchmarks/results.md, never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.faults.harness import REPO


def test_the_training_benchmark_prints_its_tables(tmp_path):
    args = ["--rounds", "2", "--samples", "256", "--length", "32", "--grid", "2"]
    done = subprocess.run([sys.executable, "-m", "benchmarks.training", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for row in ("(a) reference", "(b) ours: train_vae", "(c) train_grid, one vectorised pass",
                "(c) 2 sequential train_vae runs"):  # fmt: skip
        assert re.search(re.escape(row) + r".* \| [\d,]+ \| \d+\.\d\dx", out), row
    assert re.search(r"Ours vs reference: \d+\.\d\dx\. The grid of 2.* is \d+\.\d\dx faster than running", out)
    for row in ("(a) reference loop", "(b) train_vae", "(c) train_grid of 2"):  # one run of 8 epochs, first vs last
        assert re.search(re.escape(row) + r" \| [\d,]+ \| [\d,]+ \| \d+\.\d\dx \|", out), row
    assert done.stderr.count("round ") >= 2  # progress per round
