"""How a CPU does the training's arithmetic: denormals flushed to zero in every thread, and, when asked, the
float32 matrix multiplies done in bfloat16 by oneDNN.

Denormals: late in a run, tiny gradients and Adam moments fall into the denormal range (below ~1.2e-38), where x86
arithmetic is many times slower. `torch.set_flush_denormal(True)` sets the FTZ/DAZ bits of the calling thread's
MXCSR register only, while PyTorch's intra-op work (and MKL's and oneDNN's) also runs on the threads of its OpenMP
pool, which keep their own: with 2 threads, half of every parallel kernel went on with denormals, and a grid of 16
fell from 174k to 84k model-samples/s over 8 epochs, against ~180k sustained with every thread flushed. So
`flushed` also copies the caller's floating-point environment into each pool thread, from inside one OpenMP
parallel region (libgomp's `GOMP_parallel`, which libomp and Intel's runtime export too, as libtorch_cpu binds
it, running libc's `fesetenv`). Where there is none (PyTorch built without OpenMP, no /proc) only the calling
thread is set, as torch itself does. Values below 1e-38 do not change the result.

bf16 matrix multiplies (`train.amp: bf16` on a CPU): oneDNN's bf16 math mode
(`torch.backends.mkldnn.matmul.fp32_precision = "bf16"`) takes float32 tensors, rounds the operands to bfloat16
inside the kernel (AMX or AVX512-BF16) and accumulates in float32. Activations, the loss and the gradients stay
float32 and nothing is cast in Python: on a Xeon with AMX a grid of 16 steps ~1.25x faster than with bf16 tensors
(whose casts, copies and bf16 elementwise kernels cost more than the matrix multiplies save), ~1.3x faster than in
float32. One config is faster in float32 (oneDNN's per-call cost outweighs the saving at that size).
`tests/vae/test_cpu_math.py` checks both, thread by thread and product by product."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os

import torch

log = logging.getLogger(__name__)


@functools.cache
def _gomp_parallel():
    """`GOMP_parallel` as PyTorch's CPU library binds it (looked up in libtorch_cpu's own scope, so its OpenMP
    runtime and not another one loaded beside it, such as scikit-learn's libgomp), or None."""
    with contextlib.suppress(OSError, AttributeError, StopIteration), open("/proc/self/maps") as maps:
        path = next(p for p in (line.split()[-1] for line in maps) if os.path.basename(p).startswith("libtorch_cpu"))
        return ctypes.CDLL(path).GOMP_parallel
    return None


def set_flush_denormal(on: bool) -> bool:
    """`torch.set_flush_denormal(on)` in this thread and in every thread of PyTorch's OpenMP pool; False where the
    CPU cannot flush denormals (as torch's own)."""
    if not torch.set_flush_denormal(on):
        return False
    parallel, threads = _gomp_parallel(), torch.get_num_threads()
    if threads == 1:
        return True
    if parallel is None:
        log.debug("no OpenMP runtime of libtorch_cpu found: denormals flushed in the calling thread only")
        return True
    libc = ctypes.CDLL(None)
    env = ctypes.create_string_buffer(256)  # an fenv_t (32 bytes on x86-64 glibc), opaque to us
    if libc.fegetenv(env) != 0:
        log.warning("fegetenv failed: denormals flushed in the calling thread only")
        return True
    task = ctypes.cast(libc.fesetenv, ctypes.CFUNCTYPE(None, ctypes.c_void_p))  # void fn(void *data)
    parallel(task, env, threads, 0)  # every thread of the team runs fesetenv(env)
    return True


@contextlib.contextmanager
def flushed(device: torch.device | str = "cpu"):
    """Denormals flushed to zero in every CPU thread while the block runs (nothing on other devices), then not."""
    if torch.device(device).type != "cpu" or not set_flush_denormal(True):
        yield
        return
    try:
        yield
    finally:
        set_flush_denormal(False)


@contextlib.contextmanager
def bf16_matmuls(device: torch.device | str = "cpu", enabled: bool = True):
    """While the block runs, float32 matrix multiplies on the CPU are done by oneDNN with bfloat16 operands and
    float32 accumulation (nothing changes when not `enabled` or on other devices); the previous setting after."""
    if torch.device(device).type != "cpu" or not enabled:
        yield
        return
    matmul = torch.backends.mkldnn.matmul
    before = matmul.fp32_precision
    matmul.fp32_precision = "bf16"
    try:
        yield
    finally:
        matmul.fp32_precision = before
