"""How a CPU does the training's arithmetic: denormals flushed to zero in every thread, and, when asked, matrix
multiplies in bfloat16, in the form that is faster on the CPU at hand.

Denormals: late in a run, tiny gradients and Adam moments fall into the denormal range (below ~1.2e-38), where x86
arithmetic is many times slower. `torch.set_flush_denormal(True)` sets the FTZ/DAZ bits of the calling thread's
MXCSR register only, while PyTorch's intra-op work (and MKL's and oneDNN's) also runs on the threads of its OpenMP
pool, which keep their own: with 2 threads, half of every parallel kernel went on with denormals, and a grid of 16
fell from 174k to 84k model-samples/s over 8 epochs, against ~180k sustained with every thread flushed. So
`flushed` also copies the caller's floating-point environment (libm's `fegetenv`) into each pool thread, by
running `fesetenv` from inside one OpenMP parallel region: `GOMP_parallel` (libgomp's, which libomp and Intel's
runtime export too), looked up among libtorch_cpu's own dependencies so that it is torch's pool and not another
runtime's loaded beside it (scikit-learn bundles a libgomp). At the end every thread gets the caller's
environment from before the block back. Where that cannot be done (PyTorch not on OpenMP, no /proc, no libm) only
the calling thread is set, as torch itself does, with a warning. Values below 1e-38 do not change the result.
The thread count should not change inside the block: threads added to the pool meanwhile are reset at the end,
but until then run as they started.

bf16 matrix multiplies (`train.amp: bf16`) come in two forms, and `bf16_tensors` picks the one for the CPU:
- where it works (a CPU with AMX), oneDNN's bf16 math mode (`bf16_matmuls`, that is
  `torch.backends.mkldnn.matmul.fp32_precision = "bf16"`) takes float32 tensors, rounds the operands to bfloat16
  inside the kernel and accumulates in float32; activations, the loss and the gradients stay float32 and nothing
  is cast in Python. On a Xeon with AMX a grid of 16 steps ~1.22x faster than with bf16 tensors (whose casts,
  copies and bf16 elementwise kernels cost more than the matrix multiplies save), ~1.23x faster than in float32.
  The setting is process-wide while the block runs (and the legacy `torch.get_float32_matmul_precision()` raises
  inside it).
- on a CPU with AVX512-BF16 but no AMX (an AMD EPYC, for one), oneDNN leaves the mode unused (float32 products,
  bit for bit), so the weights are cast to a bf16 copy once per step and the matrix multiplies take bf16 tensors,
  as on CUDA: a grid of 16's matrix multiplies take 2.8-4.0 ms against 5.7-7.9 ms in float32 (AMD EPYC, 2
  threads, four runs), and the grid steps 1.15-1.4x faster than in float32.
One config is faster in float32 on both (the per-call costs outweigh the saving at that size). On a CPU without
bf16 the mode is used and changes nothing: float32.

`tests/vae/test_cpu_math.py` checks both, thread by thread and product by product."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import logging
import os

import torch

log = logging.getLogger(__name__)


@functools.cache
def _pool_runner():
    """(GOMP_parallel of torch's OpenMP pool, libm), or None, with a warning, where either cannot be had."""
    try:
        if "parallel backend: OpenMP" not in torch.__config__.parallel_info():
            raise OSError("PyTorch's parallel backend is not OpenMP")
        libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
        libm.fegetenv, libm.fesetenv  # noqa: B018 (both must exist)
        return _libtorch_cpu().GOMP_parallel, libm
    except (OSError, AttributeError, StopIteration) as e:
        log.warning("denormals flushed in the calling thread only, not in PyTorch's other threads (%s: %s)",
                    type(e).__name__, e)  # fmt: skip
        return None


def _libtorch_cpu() -> ctypes.CDLL:
    """libtorch_cpu as this process mapped it: a lookup in its handle searches it and its own dependencies."""
    with open("/proc/self/maps", errors="surrogateescape") as maps:
        fields = (line.split(maxsplit=5) for line in maps)
        path = next(
            f[5].rstrip("\n") for f in fields if len(f) == 6 and os.path.basename(f[5]).startswith("libtorch_cpu")
        )
    return ctypes.CDLL(path)


def _fenv() -> ctypes.Array | None:
    """This thread's floating-point environment (an opaque fenv_t: 32 bytes on x86-64), or None."""
    runner = _pool_runner()
    env = ctypes.create_string_buffer(256)
    return env if runner is not None and runner[1].fegetenv(env) == 0 else None


def _to_pool(env: ctypes.Array | None, threads: int) -> None:
    """Every thread of a team of `threads` (the caller among them) runs fesetenv(env)."""
    runner = _pool_runner()
    if env is None or runner is None:
        return
    parallel, libm = runner
    task = ctypes.cast(libm.fesetenv, ctypes.CFUNCTYPE(None, ctypes.c_void_p))  # void fn(void *data)
    parallel(task, env, max(threads, 2), 0)  # a team of 1 would not reach the pool's threads


@contextlib.contextmanager
def flushed(device: torch.device | str = "cpu"):
    """Denormals flushed to zero in every CPU thread while the block runs (nothing on other devices); afterwards
    every thread has the caller's floating-point environment from before the block."""
    if torch.device(device).type != "cpu":
        yield
        return
    before, threads = _fenv(), torch.get_num_threads()
    if not torch.set_flush_denormal(True):  # this CPU cannot
        yield
        return
    _to_pool(_fenv(), threads)
    try:
        yield
    finally:
        if before is None:
            torch.set_flush_denormal(False)
        _to_pool(before, max(threads, torch.get_num_threads()))


def has_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX): what oneDNN's bf16 mode needs to change
    anything."""
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


@functools.cache
def has_bf16_mode() -> bool:
    """Whether oneDNN's bf16 mode changes anything on this CPU. The mode (oneDNN's `fpmath_mode` bf16) only allows
    oneDNN to round float32 operands to bf16; whether the kernel it picks does so is oneDNN's choice (seen: it does
    on a Xeon with AMX; on an AMD EPYC with AVX512-BF16 alone products in the mode come out exactly as in float32),
    so it is probed: one product in the mode against float32's."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(64, 64, generator=g), torch.randn(64, 64, generator=g)
    with bf16_matmuls():
        in_mode = a @ b
    return not torch.equal(in_mode, a @ b)


def bf16_tensors(device: torch.device | str) -> bool:
    """Whether bf16 training multiplies bf16 tensors (the weights cast once per step), as on CUDA and on a CPU with
    bf16 that oneDNN's bf16 mode leaves unused, rather than float32 tensors in that mode (`bf16_matmuls`), as on a
    CPU where the mode works (or where there is no bf16, and it changes nothing)."""
    if torch.device(device).type != "cpu":
        return True
    return has_bf16() and not has_bf16_mode()


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
