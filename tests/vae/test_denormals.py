"""Denormals are flushed to zero in every thread of PyTorch's CPU pool once `pipelines.vae.devices` (the trainer)
is imported before the pool starts (its threads inherit the setting), and the trainer's check sees a pool that
started unflushed."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from tests.faults.harness import REPO

pytestmark = pytest.mark.skipif(not torch.set_flush_denormal(True), reason="this CPU cannot flush denormals")

COUNT = """
x = torch.ones(4_000_000, dtype=torch.int32).view(torch.float32)  # denormals (made from bits: no arithmetic)
print(int(((x * 1.0) != 0).sum()))  # one multiplication split across both threads; one that flushes makes zeros
"""


def surviving(before: str) -> int:
    """Denormals surviving a 2-thread multiplication in a fresh process that runs `before` first."""
    script = f"import torch\ntorch.set_num_threads(2)\n{before}\n{COUNT}"
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.split()[-1])


def test_pool_threads_flush_when_the_trainer_is_imported_before_the_pool_starts():
    assert surviving("import pipelines.vae.trainer") == 0


def test_without_it_denormals_survive():
    assert surviving("") == 4_000_000


def test_a_pool_started_before_the_import_keeps_them_and_the_trainer_warns():
    """Only the calling thread flushes then: about half the product survives (the other thread's part), and the
    trainer's check (`pool_flushes_denormals`) sees it."""
    before = "torch.ones(4_000_000) * 2.0\nimport pipelines.vae.devices as t\nassert not t.pool_flushes_denormals()"
    assert 0 < surviving(before) < 4_000_000


def test_the_trainer_check_sees_a_flushed_pool():
    assert surviving("import pipelines.vae.devices as t\nassert t.pool_flushes_denormals()") == 0
