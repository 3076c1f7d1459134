"""Denormals are flushed in every thread of PyTorch's CPU pool while training, and only while training."""

from __future__ import annotations

import pytest
import torch

from pipelines.vae import denormals

TINY = 1e-39  # a denormal float32

pytestmark = pytest.mark.skipif(not torch.set_flush_denormal(False), reason="this CPU cannot flush denormals")


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def surviving(x: torch.Tensor) -> int:
    """How many denormals of `x` survive one multiplication, a kernel split across the pool's threads: with
    denormals-are-zero set in a thread, the part that thread computes comes out 0."""
    return int(((x * 1.0) != 0).sum())


def test_every_thread_flushes_inside_the_block_and_none_after(two_threads):
    x = torch.full((4_000_000,), TINY)  # large enough that both threads take a part
    assert surviving(x) == x.numel()
    with denormals.flushed("cpu"):
        assert surviving(x) == 0, "a thread of the pool went on computing with denormals"
    assert surviving(x) == x.numel(), "denormals stayed flushed after the block"


def test_other_devices_leave_the_cpu_alone(two_threads):
    x = torch.full((4_000_000,), TINY)
    with denormals.flushed("cuda"):
        assert surviving(x) == x.numel()
