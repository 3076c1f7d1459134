"""Where training runs: the device, the process group under torchrun, and the CPU's denormal flushing.

Denormals: late in a run tiny gradients and Adam moments fall below ~1.2e-38, where x86 arithmetic is many times
slower (a grid of 16 fell to half its speed by epoch 8), so training flushes them to zero. `torch.set_flush_denormal`
sets only the calling thread; the threads of PyTorch's CPU pool copy the floating-point environment of the thread
that starts them (pthread_create). So the entry points that train (the CLI, torchrun's processes, the benchmarks)
call `flush_denormals_in_cpu_pool` first, before torch runs any parallel work, and the trainer calls it again as it
starts (a no-op after the first call; in a Dagster step, whose first torch work is the training, the call that
counts): it starts the pool with flushing on, then turns it off again in the calling thread, where
`flushed_denormals` turns it on only while training. The pool's threads keep flushing (they only run PyTorch's
kernels), while the rest of the process (numpy, hypothesis's floats) keeps IEEE arithmetic. It is a call, not
something importing this module does, so that importing changes nothing. A pool started before the call stays
unflushed; the trainer warns then (`pool_flushes_denormals`). tests/vae/test_denormals.py checks all of it. Values
that small do not change a result.
"""

from __future__ import annotations

import contextlib
import functools
import os
from typing import NamedTuple

import torch

from pipelines.errors import TrainingError


@functools.cache  # once per process: a second call would turn flushing off in a caller inside flushed_denormals
def flush_denormals_in_cpu_pool() -> None:
    """Start PyTorch's CPU thread pool with denormals flushed to zero in its threads, the calling thread's flushing
    turned off again (IEEE). Entry points call it before torch runs parallel work; a pool already started is left
    unflushed (`pool_flushes_denormals` tells), and a CPU that cannot flush is left alone. Later calls do nothing."""
    if torch.set_flush_denormal(True):  # False where the CPU cannot flush
        torch.ones(1 << 18) * 2.0  # a kernel large enough to start the pool's threads, which inherit the setting
        torch.set_flush_denormal(False)


class World(NamedTuple):
    """This process's place in a data-parallel (torchrun) training: its rank and the number of processes. Computed
    once by the entry point (`init_distributed`) and passed down to the stage, the trainer and `pick_device`."""

    rank: int = 0
    size: int = 1


SINGLE = World()  # one process: no torchrun


def pick_device(name: str, world: World = SINGLE) -> torch.device:
    """The training device; under torchrun, each process's own GPU (LOCAL_RANK)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("train.device is 'cuda' but no CUDA device is available")
    if name == "cuda" and world.size > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device(name)


def distributed() -> World:
    """This process's rank and world size: (0, 1) unless a process group is initialised (`init_distributed`)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return World(torch.distributed.get_rank(), torch.distributed.get_world_size())
    return SINGLE


def init_distributed() -> World:
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
