"""Where training runs: the device, the process group under torchrun, and the CPU's denormal flushing.

Denormals: late in a run tiny gradients and Adam moments fall below ~1.2e-38, where x86 arithmetic is many times
slower (a grid of 16 fell to half its speed by epoch 8), so training flushes them to zero. `torch.set_flush_denormal`
sets only the calling thread; the threads of PyTorch's CPU pool copy the floating-point environment of the thread
that starts them (pthread_create). So importing this module (the trainer does) starts the pool with flushing on,
then turns it off again in the calling thread, where `flushed_denormals` turns it on only while training: the pool's
threads keep flushing (they only run PyTorch's kernels), while the rest of the process (numpy, hypothesis's floats)
keeps IEEE arithmetic. A pool started before the import stays unflushed; the trainer warns then
(`pool_flushes_denormals`). tests/vae/test_denormals.py checks all of it. Values that small do not change a result.
"""

from __future__ import annotations

import contextlib
import os

import torch

from pipelines.errors import TrainingError


def _start_pool_flushed() -> None:
    if torch.set_flush_denormal(True):  # False where the CPU cannot flush
        torch.ones(1 << 18) * 2.0  # a kernel large enough to start the pool's threads, which inherit the setting
        torch.set_flush_denormal(False)


_start_pool_flushed()


def pick_device(name: str) -> torch.device:
    """The training device; under torchrun, each process's own GPU (LOCAL_RANK)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("train.device is 'cuda' but no CUDA device is available")
    if name == "cuda" and distributed()[1] > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device(name)


def distributed() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) unless a process group is initialised (`init_distributed`)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def init_distributed() -> tuple[int, int]:
    """Join the process group torchrun describes (WORLD_SIZE, RANK, MASTER_ADDR in the environment): NCCL on
    GPUs, gloo on CPUs. Data-parallel training: every process holds the whole grid, takes its share of each
    batch and averages its gradients with the others, so all end with the same weights."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.distributed.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
    return distributed()


@contextlib.contextmanager
def flushed_denormals(device: torch.device):
    """Denormals flushed to zero in the calling thread while training on a CPU (the pool's threads always are)."""
    if device.type != "cpu" or not torch.set_flush_denormal(True):
        yield
        return
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def pool_flushes_denormals() -> bool:
    """Whether every thread of PyTorch's CPU pool flushes denormals to zero, read inside `flushed_denormals`: one
    multiplication of denormals large enough to be split across the pool comes out all zeros."""
    tiny = torch.ones(1 << 18, dtype=torch.int32).view(torch.float32)  # the least denormal (bits, not arithmetic)
    return not bool((tiny * 1.0).count_nonzero())
