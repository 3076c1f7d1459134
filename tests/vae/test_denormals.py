"""Denormals: `flush_denormals_in_cpu_pool`, which the entry points call, starts PyTorch's CPU pool with flushing on,
so its threads flush for good, while the calling thread flushes only while training (`flushed_denormals`) and keeps
IEEE arithmetic otherwise; importing the trainer alone flushes nothing; a pool started before the call is seen by
the trainer's check."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from tests.faults.harness import REPO

pytestmark = pytest.mark.skipif(not torch.set_flush_denormal(False), reason="this CPU cannot flush denormals")

N = 4_000_000
PRELUDE = f"""
import sys
import torch
torch.set_num_threads(2)


def surviving():  # one multiplication split across both threads; a thread that flushes makes zeros of its part
    x = torch.ones({N}, dtype=torch.int32).view(torch.float32)  # denormals (made from bits: no arithmetic)
    return int(((x * 1.0) != 0).sum())
"""


def run(script: str) -> list[str]:
    """What a fresh process running PRELUDE and then `script` prints."""
    done = subprocess.run([sys.executable, "-c", PRELUDE + script], cwd=REPO, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def test_every_thread_flushes_while_training_and_only_the_pool_after():
    script = """
from pipelines.vae import devices
devices.flush_denormals_in_cpu_pool()
devices.flush_denormals_in_cpu_pool()  # a second call (another entry point) changes nothing
with devices.flushed_denormals(torch.device("cpu")):
    print(surviving(), devices.pool_flushes_denormals())
print(surviving(), 5e-324 * 1.0 > 0)  # after: the caller's part survives; Python's floats are IEEE again
"""
    inside, pool_flushes, after, ieee = run(script)
    assert (inside, pool_flushes) == ("0", "True")
    assert 0 < int(after) < N and ieee == "True"


def test_without_the_call_nothing_flushes():
    assert run("print(surviving())") == [str(N)]


def test_importing_the_trainer_flushes_nothing():  # issue 25: no setup at import time
    script = """
from pipelines.vae import devices, trainer
print(surviving(), devices.pool_flushes_denormals())
"""
    assert run(script) == [str(N), "False"]


def test_a_pool_started_before_the_call_is_seen_unflushed():
    script = f"""
surviving()  # starts the pool's threads, unflushed
from pipelines.vae import devices
devices.flush_denormals_in_cpu_pool()
with devices.flushed_denormals(torch.device("cpu")):
    print(0 < surviving() < {N}, devices.pool_flushes_denormals())
"""
    assert run(script) == ["True", "False"]
