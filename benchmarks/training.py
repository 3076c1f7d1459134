"""Training-throughput benchmark, all in one run on the same data, model and batch size:

(a) a reference loop in the style of the popular PyTorch VAE ports: TensorDataset + DataLoader(shuffle=True) +
    per-batch `.to(device)`, default Adam;
(b) our single-config trainer (`train_vae`: resident tensor sliced per batch, autograd, fused Adam; on CUDA the
    captured step), with bf16 autocast where the hardware has bf16 (and on CUDA torch.compile, graphs off);
(c) our vectorised grid of G configs (`train_grid`) against G sequential single runs.

    python -m benchmarks.training [--samples 20000] [--length 187] [--rounds 5] [--batch 64] [--grid 16]
                                  [--sustained-epochs 8] [--full-epochs 50 --full-samples 15000]

Shared machines are noisy (a neighbour's load can halve a core's speed for seconds at a time), so the trainers are
measured in interleaved rounds, each round one epoch of every trainer back to back, and each trainer's figure is
its best round (as timeit takes the minimum: interference only ever slows a run); the range over rounds is printed
beside it. `--sustained-epochs` then runs the default trainers once for that many epochs and sets the last epoch
against the first (a slowdown that builds up over a run, as denormals did, is invisible in one-epoch rounds).
`--full-epochs` also times one whole run of that many epochs, end to end (capture included).
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

from pipelines.vae.devices import flush_denormals_in_cpu_pool, pick_device
from pipelines.vae.losses import gaussian_recon
from pipelines.vae.model import BetaVAE, ModelConfig
from pipelines.vae.regularizers import LossConfig, kl_per_latent
from pipelines.vae.trainer import TrainConfig, train_grid, train_vae


def reference_loop(x: np.ndarray, cfg: TrainConfig, beta: float) -> list[float]:
    """Samples/s of each epoch of the DataLoader loop over the same model and beta-VAE loss."""
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
            kl = kl_per_latent(mu, logvar).sum(dim=-1)
            loss = (gaussian_recon(x_hat, batch, cfg.recon_sigma) + beta * kl).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - t0)
    return [len(x) / t for t in seconds]


def grid_configs(size: int) -> list[LossConfig]:
    """Half beta-VAEs (beta 1, 2, 4, ...), half capacity models (gamma 1000, C 5, 10, 15, ...)."""
    half = size // 2
    betas = [LossConfig(f"b{2**i}", "beta", beta=float(2**i)) for i in range(size - half)]
    return betas + [LossConfig(f"c{5 * (i + 1)}", "capacity", capacity_nats=5.0 * (i + 1)) for i in range(half)]


def sines(samples: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, length)
    x = rng.uniform(0.5, 2, (samples, 1)) * np.sin(2 * np.pi * (t + rng.uniform(0, 1, (samples, 1))))
    return x.astype(np.float32)


def rates_of(history: list[dict]) -> list[float]:
    return [h["samples_per_s"] for h in history]


def has_bf16(device: torch.device) -> bool:
    """Whether the hardware multiplies bf16 natively (CUDA compute capability >= 8; AVX512-BF16 or AMX on a CPU)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name()
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return f"{name}, {torch.get_num_threads()} threads, {torch.backends.cpu.get_cpu_capability()}"


def sustained(x: np.ndarray, cfg: TrainConfig, one: LossConfig, configs: list[LossConfig], epochs: int) -> None:
    """One run of `epochs` epochs of each trainer, first epoch against last."""
    cfg = replace(cfg, epochs=epochs)
    runs = {
        "(a) reference loop": reference_loop(x, cfg, one.beta),
        "(b) train_vae": rates_of(train_vae(x, cfg, one)[1]),
        f"(c) train_grid of {len(configs)}": [
            len(configs) * r for r in rates_of(next(iter(train_grid(x, cfg, configs).values()))[1])
        ],
    }
    print(f"\n| one run of {epochs} epochs | epoch 1 | epoch {epochs} | epoch {epochs} vs 1 |\n|---|---|---|---|")
    for name, rates in runs.items():
        print(f"| {name} | {rates[0]:,.0f} | {rates[-1]:,.0f} | {rates[-1] / rates[0]:.2f}x |")


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
    flush_denormals_in_cpu_pool()  # as the pipeline's entry points do, before torch runs
    x = sines(args.samples, args.length)
    cfg = TrainConfig(epochs=1, batch_size=args.batch, checkpoint_every=0)  # one epoch of each trainer per round
    device = pick_device(cfg.device)
    one, configs = LossConfig("b4", "beta", beta=4.0), grid_configs(args.grid)
    G = len(configs)
    variants = {"": cfg}  # row suffix -> settings, for (b) and (c) alike
    if has_bf16(device):
        variants[", bf16 autocast"] = replace(cfg, amp="bf16")
    if device.type == "cuda":
        variants |= {", torch.compile": replace(cfg, compile=True), ", no CUDA graphs": replace(cfg, cuda_graphs=False)}

    rates: dict[str, list[float]] = defaultdict(list)  # row -> samples/s per round (model-samples/s for grids)
    for r in range(args.rounds):
        rates["(a)"] += reference_loop(x, cfg, one.beta)
        for suffix, variant in variants.items():
            rates["(b)" + suffix].append(np.median(rates_of(train_vae(x, variant, one)[1])))
            rates["(c)" + suffix].append(
                np.median(rates_of(next(iter(train_grid(x, variant, configs).values()))[1])) * G
            )
        t0 = time.perf_counter()
        for loss_cfg in configs:
            train_vae(x, cfg, loss_cfg)
        rates["sequential"].append(G * len(x) / (time.perf_counter() - t0))
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:,.0f}" for k, v in rates.items()),
              file=sys.stderr, flush=True)  # fmt: skip

    def best(key: str) -> float:
        return max(rates[key])

    def spread(key: str) -> str:
        return f"{min(rates[key]):,.0f}–{max(rates[key]):,.0f}"

    print(f"## Training throughput ({args.samples:,} x {args.length}, batch {args.batch}, best of {args.rounds} "
          f"interleaved rounds of one epoch each; {device.type}: {machine(device)}; "
          f"torch {torch.__version__})\n")  # fmt: skip
    print("| trainer | samples/s | vs (a) | rounds |\n|---|---|---|---|")
    print(f"| (a) reference: TensorDataset + DataLoader(shuffle) + .to(device), Adam | {best('(a)'):,.0f} | 1.00x | "
          f"{spread('(a)')} |")  # fmt: skip
    for suffix in variants:
        key = "(b)" + suffix
        print(f"| (b) ours: train_vae{suffix} | {best(key):,.0f} | {best(key) / best('(a)'):.2f}x | {spread(key)} |")
    print(f"\n| grid of {G} configs | model-samples/s | vs {G} sequential runs | epoch time vs one config (b) | "
          "rounds |\n|---|---|---|---|---|")  # fmt: skip
    for suffix in variants:
        key = "(c)" + suffix
        vs_sequential, vs_one = best(key) / best("sequential"), G * best("(b)") / best(key)
        print(f"| (c) train_grid{suffix}, one vectorised pass | {best(key):,.0f} | {vs_sequential:.2f}x | "
              f"{vs_one:.2f}x | {spread(key)} |")  # fmt: skip
    print(f"| (c) {G} sequential train_vae runs (wall, all included) | {best('sequential'):,.0f} | 1.00x | "
          f"{G * best('(b)') / best('sequential'):.2f}x | {spread('sequential')} |")  # fmt: skip
    grid = "(c)" + max(variants, key=lambda s: best("(c)" + s))
    print(f"\nOurs vs reference: {best('(b)') / best('(a)'):.2f}x. The grid of {G}{grid[3:]} is "
          f"{best(grid) / best('sequential'):.2f}x faster than running its configs one after another and costs "
          f"{G * best('(b)') / best(grid):.2f}x one config's time.")  # fmt: skip
    if args.sustained_epochs > 1:
        sustained(x, cfg, one, configs, args.sustained_epochs)
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
