"""Training-throughput benchmark, all in one run on the same data, model and batch size:

(a) a reference loop in the style of the popular PyTorch VAE ports: TensorDataset + DataLoader(shuffle=True) +
    per-batch `.to(device)`, default Adam;
(b) our single-config trainer (`train_vae`: resident tensor sliced per batch, fused Adam; on CUDA the captured
    step), with its variants (bf16 matmuls where the hardware has them; on CUDA torch.compile, graphs off);
(c) our vectorised grid of G configs (`train_grid`) against G sequential single runs.

    python -m benchmarks.training [--samples 20000] [--length 187] [--rounds 5] [--batch 64] [--grid 16]
                                  [--sustained-epochs 8] [--full-epochs 50 --full-samples 15000]

Shared machines are noisy (a neighbour's load can halve a core's speed for seconds at a time), so the trainers are
measured in interleaved rounds, each round one epoch of every trainer back to back, and each trainer's figure is
its best round (as timeit takes the minimum: interference only ever slows a run); the range over rounds is
printed beside it, and ratios are of the best rounds, floors the fastest of theirs. Prints samples/s
(model-samples/s for the grid) and the ratios as Markdown, and the floor under the grid's step: its matrix
multiplies and its Adam step alone, against one config's whole step, and the grid's FLOPs at the rate of one
large matrix multiply (the device's peak, in practice). `--sustained-epochs` then runs each trainer
once for that many epochs and sets its last epoch against its first (a slowdown that builds up over a run, such
as denormals, is invisible in one-epoch rounds). `--full-epochs` also times one whole run, end to end (capture
included), of that many epochs on `--full-samples` samples.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from pipelines.vae import cpu_math
from pipelines.vae.losses import LossConfig, gaussian_recon, kl_per_latent, vae_loss
from pipelines.vae.model import BetaVAE, ModelConfig, StackedVAE, init_models
from pipelines.vae.trainer import TrainConfig, pick_device, train_grid, train_vae


def reference_loop(x: np.ndarray, cfg: TrainConfig, loss_cfg: LossConfig) -> list[float]:
    """Samples/s of each epoch of the DataLoader loop over the same model and loss (no capacity annealing:
    beta-VAE)."""
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    model = BetaVAE(ModelConfig(x.shape[1], cfg.latent_dim, tuple(cfg.hidden)), float(x.mean()), float(x.std()))
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loader = DataLoader(TensorDataset(torch.as_tensor(x, dtype=torch.float32)), batch_size=cfg.batch_size, shuffle=True)
    seconds = []
    for _ in range(cfg.epochs):
        t0 = time.perf_counter()
        for (batch,) in loader:
            batch = model.standardize(batch.to(device))
            mu, logvar = model.encoder(batch).chunk(2, dim=-1)
            x_hat = model.decode_standardized(model.reparameterize(mu, logvar))
            loss = vae_loss(gaussian_recon(x_hat, batch, cfg.recon_sigma), kl_per_latent(mu, logvar), loss_cfg, 0.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - t0)
    return [len(x) / t for t in seconds]


def matmul_ms(models: int, length: int, cfg: TrainConfig) -> float:
    """Milliseconds per step of the training step's matrix multiplies alone (forward, weight and input gradients)
    for `models` stacked models, as the trainer does them with `cfg.amp` (bf16: bf16 tensors, or float32 ones in
    oneDNN's bf16 mode on a CPU with AMX): the floor under the grid's step time, since a grid does each model's
    FLOPs."""
    device = pick_device(cfg.device)
    tensors = cfg.amp == "bf16" and cpu_math.bf16_tensors(device)
    dtype = torch.bfloat16 if tensors else torch.float32
    shapes = layer_shapes(length, cfg)
    ws = [torch.randn(models, a, b, device=device, dtype=dtype) for a, b in shapes]
    hs = [torch.randn(models, cfg.batch_size, a, device=device, dtype=dtype) for a, _ in shapes]
    ys = [torch.randn(models, cfg.batch_size, b, device=device, dtype=dtype) for _, b in shapes]

    def step():
        for i, (w, h, y) in enumerate(zip(ws, hs, ys, strict=True)):
            torch.bmm(h, w)
            torch.bmm(h.transpose(1, 2), y)
            if i > 0:
                torch.bmm(y, w.transpose(1, 2))

    with cpu_math.bf16_matmuls(device, cfg.amp == "bf16" and not tensors):
        return ms_per_call(step, device, 100)


def layer_shapes(length: int, cfg: TrainConfig) -> list[tuple[int, int]]:
    """(inputs, outputs) of each Linear layer, encoder then decoder."""
    sizes = [length, *cfg.hidden, 2 * cfg.latent_dim], [cfg.latent_dim, *reversed(cfg.hidden), length]
    return [(a, b) for mlp in sizes for a, b in zip(mlp[:-1], mlp[1:], strict=True)]


def step_flops(length: int, cfg: TrainConfig) -> int:
    """Floating-point operations of one model's training step in its matrix multiplies: per layer the forward
    product and the weight gradient, and the input gradient for all but the first layer, 2 B in out each."""
    shapes = layer_shapes(length, cfg)
    return sum(2 * cfg.batch_size * a * b * (2 if i == 0 else 3) for i, (a, b) in enumerate(shapes))


def peak_gflops(device: torch.device, dtype: torch.dtype) -> float:
    """GFLOP/s of one large square matrix multiply in `dtype` (best of 5): what the device's matrix units reach
    when nothing but arithmetic limits them."""
    n = 8192 if device.type == "cuda" else 2048
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    ms = [ms_per_call(lambda: a @ b, device, 1, warmup=3 if i == 0 else 0) for i in range(5)]
    return 2 * n**3 / 1e6 / min(ms)


def reference_loop_flushed(x: np.ndarray, cfg: TrainConfig, loss_cfg: LossConfig) -> list[float]:
    """The reference loop with denormals flushed to zero in every thread, as our trainer runs on a CPU."""
    with cpu_math.flushed():
        return reference_loop(x, cfg, loss_cfg)


def grid_configs(size: int) -> list[LossConfig]:
    """Half beta-VAEs (beta 1, 2, 4, ...), half capacity models (gamma 1000, C 5, 10, 15, ...)."""
    half = size // 2
    betas = [LossConfig(f"b{2**i}_c0", "beta", beta=float(2**i)) for i in range(size - half)]
    return betas + [LossConfig(f"g1000_c{5 * (i + 1)}", "capacity", capacity_nats=5.0 * (i + 1)) for i in range(half)]


def median_rate(history: list[dict]) -> float:
    return float(np.median(rates_of(history)))


def sines(samples: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, length)
    x = rng.uniform(0.5, 2, (samples, 1)) * np.sin(2 * np.pi * (t + rng.uniform(0, 1, (samples, 1))))
    return x.astype(np.float32)


def adam_ms(models: int, length: int, cfg: TrainConfig) -> float:
    """Milliseconds per fused Adam step over `models` stacked models' parameters: memory-bound on a CPU once the
    state (parameters, gradients, two moments) outgrows the cache."""
    device = pick_device(cfg.device)
    params = StackedVAE(init_models(ModelConfig(length, cfg.latent_dim, tuple(cfg.hidden)), models, 0, 0.0, 1.0))
    params.to(device).flat.grad = torch.randn_like(params.flat)
    opt = torch.optim.Adam(params.parameters(), lr=cfg.lr, fused=True)
    return ms_per_call(opt.step, device, 50)


def ms_per_call(fn, device: torch.device, calls: int, warmup: int = 10) -> float:
    """Milliseconds per call of `fn` over `calls` calls after `warmup` warm-up calls (the device's queue drained)."""
    for _ in range(warmup):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) * 1e3 / calls


def has_bf16_matmuls(device: torch.device) -> bool:
    """Whether the hardware multiplies bf16 natively (CUDA compute capability >= 8; AVX512-BF16 or AMX on a CPU)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_math.has_bf16()


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def sustained(x: np.ndarray, cfg: TrainConfig, one: LossConfig, configs: list[LossConfig], variants: dict,
              epochs: int) -> None:  # fmt: skip
    """One run of `epochs` epochs of each trainer, first epoch against last: what a whole training sees and the
    one-epoch rounds do not, such as denormals building up in the gradients and Adam moments as a run goes on."""
    runs = {"(a) reference loop": reference_loop(x, replace(cfg, epochs=epochs), one)}
    if pick_device(cfg.device).type == "cpu":
        runs["(a') reference loop, denormals flushed"] = reference_loop_flushed(x, replace(cfg, epochs=epochs), one)
    eager = {
        suffix: replace(variants[suffix], epochs=epochs) for suffix in ("", ", bf16 matmuls") if suffix in variants
    }
    for suffix, variant in eager.items():
        runs[f"(b) train_vae{suffix}"] = rates_of(train_vae(x, variant, one)[1])
    for suffix, variant in eager.items():
        grid = train_grid(x, variant, configs)[0][1]
        runs[f"(c) train_grid of {len(configs)}{suffix}"] = [len(configs) * r for r in rates_of(grid)]
    print(f"\n| one run of {epochs} epochs | epoch 1 | epoch {epochs} | epoch {epochs} vs 1 |\n|---|---|---|---|")
    for name, rates in runs.items():
        print(f"| {name} | {rates[0]:,.0f} | {rates[-1]:,.0f} | {rates[-1] / rates[0]:.2f}x |")


def rates_of(history: list[dict]) -> list[float]:
    return [h["samples_per_s"] for h in history]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--length", type=int, default=187)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--grid", type=int, default=16)
    parser.add_argument("--sustained-epochs", type=int, default=8)
    parser.add_argument("--full-epochs", type=int, default=0)
    parser.add_argument("--full-samples", type=int, default=15_000)
    args = parser.parse_args()
    x = sines(args.samples, args.length)
    cfg = TrainConfig(epochs=1, batch_size=args.batch, checkpoint_every=0)  # one epoch of each trainer per round
    device = pick_device(cfg.device)
    if device.type == "cuda":
        name = torch.cuda.get_device_name()
    else:
        name = f"{cpu_name()}, {torch.get_num_threads()} threads, {torch.backends.cpu.get_cpu_capability()}"
    one, configs = LossConfig("b4_c0", "beta", beta=4.0), grid_configs(args.grid)
    G = len(configs)
    variants = {"": cfg}  # row suffix -> settings, for (b) and (c) alike
    if has_bf16_matmuls(device):
        variants[", bf16 matmuls"] = replace(cfg, amp="bf16")
    if device.type == "cuda":
        variants |= {", torch.compile": replace(cfg, compile=True), ", no CUDA graphs": replace(cfg, cuda_graphs=False)}

    rates: dict[str, list[float]] = defaultdict(list)  # row -> samples/s per round (model-samples/s for grids)
    floors: dict[str, list[float]] = defaultdict(list)  # ms per round
    for r in range(args.rounds):
        rates["(a)"] += reference_loop(x, cfg, one)
        if device.type == "cpu":
            rates["(a')"] += reference_loop_flushed(x, cfg, one)
        for suffix, variant in variants.items():
            rates["(b)" + suffix].append(median_rate(train_vae(x, variant, one)[1]))
            rates["(c)" + suffix].append(median_rate(train_grid(x, variant, configs)[0][1]) * G)
        t0 = time.perf_counter()
        for loss_cfg in configs:
            train_vae(x, cfg, loss_cfg)
        rates["sequential"].append(G * len(x) / (time.perf_counter() - t0))
        floors["matmul"].append(matmul_ms(G, args.length, cfg))
        floors["adam"].append(adam_ms(G, args.length, cfg))
        floors["matmul1"].append(matmul_ms(1, args.length, cfg))
        if ", bf16 matmuls" in variants:
            floors["matmul_bf16"].append(matmul_ms(G, args.length, variants[", bf16 matmuls"]))
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in rates.items()),
              file=sys.stderr, flush=True)  # fmt: skip

    def best(key: str) -> float:
        return max(rates[key])

    def ratio(top: str, bottom: str, scale: float = 1.0) -> float:
        return scale * best(top) / best(bottom)

    def spread(key: str) -> str:
        return f"{min(rates[key]):,.0f}–{max(rates[key]):,.0f}"

    floor_ms = {k: min(v) for k, v in floors.items()}

    labels = {"(a)": "(a) reference: TensorDataset + DataLoader(shuffle) + .to(device), Adam",
              "(a')": "(a') the reference loop with denormals flushed to zero",
              **{f"(b){s}": f"(b) ours: train_vae{s}" for s in variants}}  # fmt: skip
    print(f"## Training throughput ({args.samples:,} x {args.length}, batch {args.batch}, best of {args.rounds} "
          f"interleaved rounds of one epoch each; {device.type}: {name}; torch {torch.__version__})\n")  # fmt: skip
    print("| trainer | samples/s | vs (a) | rounds |\n|---|---|---|---|")
    for key, label in labels.items():
        if key in rates:
            print(f"| {label} | {best(key):,.0f} | {ratio(key, '(a)'):.2f}x | {spread(key)} |")
    print(f"\n| grid of {G} configs | model-samples/s | epoch time vs one config (b) | rounds |\n|---|---|---|---|")
    for suffix in variants:
        key = "(c)" + suffix
        same = f"; {ratio('(b)' + suffix, key, G):.2f}x vs (b){suffix}" if suffix else ""
        print(f"| (c) train_grid{suffix}, one vectorised pass | {best(key):,.0f} | {ratio('(b)', key, G):.2f}x{same} "
              f"| {spread(key)} |")  # fmt: skip
    print(f"| (c) {G} sequential train_vae runs (wall, all included) | {best('sequential'):,.0f} | "
          f"{ratio('(b)', 'sequential', G):.2f}x | {spread('sequential')} |")  # fmt: skip
    grid = "(c)" + min(variants, key=lambda s: ratio("(b)", "(c)" + s, G))  # the cheapest grid
    print(f"\nOurs vs reference: {ratio('(b)', '(a)'):.2f}x. The grid of {G}{grid[3:]} costs "
          f"{ratio('(b)', grid, G):.2f}x one config's time, {ratio(grid, 'sequential'):.2f}x faster than running "
          f"them one after another.")  # fmt: skip
    step_ms = 1e3 * args.batch / best("(b)")
    print(f"\nFloor: a grid step's matrix multiplies alone take {floor_ms['matmul']:.2f} ms (fp32, warm caches) "
          f"and its Adam step alone {floor_ms['adam']:.2f} ms; together "
          f"{(floor_ms['matmul'] + floor_ms['adam']) / step_ms:.2f}x one config's whole step ({step_ms:.2f} ms; "
          f"its matmuls alone {floor_ms['matmul1']:.2f} ms).")  # fmt: skip
    if "matmul_bf16" in floor_ms:
        print(f"With bf16 matmuls the grid's matrix multiplies take {floor_ms['matmul_bf16']:.2f} ms; with Adam "
              f"{(floor_ms['matmul_bf16'] + floor_ms['adam']) / step_ms:.2f}x one config's fp32 step.")  # fmt: skip
    flops = step_flops(args.length, cfg)
    peaks = {"fp32": peak_gflops(device, torch.float32)}
    if ", bf16 matmuls" in variants:
        peaks["bf16"] = peak_gflops(device, torch.bfloat16)
    rate = flops / step_ms / 1e6
    bounds = [f"{G * flops / v / 1e6:.2f} ms in {k} ({G * flops / v / 1e6 / step_ms:.2f}x)" for k, v in peaks.items()]
    print(f"\nCompute bound: one model's step is {flops / 1e6:.1f} MFLOP of matrix multiplies, and one config's "
          f"whole step runs at {rate:.0f} GFLOP/s, {rate / peaks['fp32']:.0%} of a large matmul's rate here ("
          + ", ".join(f"{k} {v:,.0f} GFLOP/s" for k, v in peaks.items()) + f"). At that rate a grid of {G}'s "
          f"matrix multiplies alone take at least " + " and ".join(bounds) + " one config's whole step.")  # fmt: skip
    if args.sustained_epochs > 1:
        sustained(x, cfg, one, configs, variants, args.sustained_epochs)
    if args.full_epochs:
        xf = sines(args.full_samples, args.length, seed=1)
        for suffix in ("", ", torch.compile"):
            if suffix in variants:
                t0 = time.perf_counter()
                _, history = train_vae(xf, replace(variants[suffix], epochs=args.full_epochs), one)
                wall = time.perf_counter() - t0
                epochs = sum(h["seconds"] for h in history)
                print(f"\nOne config{suffix or ' (defaults)'}, {args.full_epochs} epochs x {args.full_samples:,} "
                      f"samples: {wall:.2f} s end to end, {epochs:.2f} s in the epochs alone")  # fmt: skip


if __name__ == "__main__":
    main()
