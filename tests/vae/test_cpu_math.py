"""The CPU arithmetic modes of training: denormals flushed in every thread of PyTorch's pool, fp32 matrix multiplies
in bf16, each only inside its block."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from pipelines.vae import cpu_math
from tests.faults.harness import REPO

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
    with cpu_math.flushed("cpu"):
        assert surviving(x) == 0, "a thread of the pool went on computing with denormals"
    assert surviving(x) == x.numel(), "denormals stayed flushed after the block"


def test_a_nested_block_gives_the_outer_one_its_flushing_back(two_threads):
    x = torch.full((4_000_000,), TINY)
    with cpu_math.flushed("cpu"):
        with cpu_math.flushed("cpu"):
            assert surviving(x) == 0
        assert surviving(x) == 0, "the inner block turned the outer one's flushing off"
    assert surviving(x) == x.numel()


def test_torchs_own_pool_is_flushed_with_another_openmp_runtime_loaded():
    """scikit-learn bundles its own libgomp; loaded after torch it is mapped first, and flushing its pool instead
    of torch's left half of every kernel unflushed (and a torch thread started in the block flushed after it)."""
    script = """
import torch
import sklearn.ensemble
from pipelines.vae import cpu_math
torch.set_num_threads(2)
x = torch.full((4_000_000,), 1e-39)
with cpu_math.flushed("cpu"):
    inside = int(((x * 1.0) != 0).sum())
print(inside, int(((x * 1.0) != 0).sum()))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["0", "4000000"]


def test_other_devices_leave_the_cpu_alone(two_threads):
    x = torch.full((4_000_000,), TINY)
    with cpu_math.flushed("cuda"):
        assert surviving(x) == x.numel()


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    exact = torch.bmm(a.double(), b.double())
    return float((torch.bmm(a, b) - exact).norm() / exact.norm())


@pytest.mark.skipif(not cpu_math.has_bf16_mode(), reason="oneDNN leaves its bf16 mode unused on this CPU")
def test_bf16_matmuls_round_the_operands_inside_the_block_only():
    """float32 in and out, bf16 operands inside oneDNN: an error of bf16's precision (8 bits, ~1e-3) in the
    block, float32's (~1e-7) outside; the previous setting comes back."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(16, 64, 256, generator=g), torch.randn(16, 256, 187, generator=g)
    before = torch.backends.mkldnn.matmul.fp32_precision
    assert relative_error(a, b) < 1e-5
    with cpu_math.bf16_matmuls("cpu"):
        assert torch.bmm(a, b).dtype == torch.float32
        assert 1e-4 < relative_error(a, b) < 1e-2
    assert relative_error(a, b) < 1e-5
    assert torch.backends.mkldnn.matmul.fp32_precision == before
    with cpu_math.bf16_matmuls("cpu", enabled=False):
        assert relative_error(a, b) < 1e-5
