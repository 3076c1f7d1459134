"""Training-throughput benchmark, all in one run on the same data, model and batch size:

(a) a reference loop in the style of the popular PyTorch VAE ports: TensorDataset + DataLoader(shuffle=True) +
    per-batch `.to(device)`, default Adam;
(b) our single-config trainer (`train_vae`: resident tensor sliced per batch, fused Adam; on CUDA the captured
    step and bf16 autocast), with its variants on CUDA (graphs off, amp off);
(c) our vectorised grid of G configs (`train_grid`) against G sequential single runs.

    python -m benchmarks.training [--samples 20000] [--length 187] [--epochs 5] [--batch 64] [--grid 16]
                                  [--full-epochs 50 --full-samples 15000]

Prints samples/s (median epoch; model-samples/s for the grid) and the ratios as Markdown. `--full-epochs` also
times one whole run, end to end (capture included), of that many epochs on `--full-samples` samples.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from pipelines.vae.losses import LossConfig, gaussian_recon, kl_per_latent, vae_loss
from pipelines.vae.model import BetaVAE, ModelConfig
from pipelines.vae.trainer import TrainConfig, pick_device, train_grid, train_vae


def reference_loop(x: np.ndarray, cfg: TrainConfig, loss_cfg: LossConfig) -> float:
    """Samples/s of the DataLoader loop over the same model and loss (no capacity annealing: beta-VAE)."""
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
    return len(x) / float(np.median(seconds))


def matmul_ms(models: int, length: int, cfg: TrainConfig) -> float:
    """Milliseconds per step of the training step's matrix multiplies alone (forward, weight and input gradients)
    for `models` stacked models: the floor under the grid's step time, since a grid does each model's FLOPs."""
    device = pick_device(cfg.device)
    sizes = [length, *cfg.hidden, 2 * cfg.latent_dim], [cfg.latent_dim, *reversed(cfg.hidden), length]
    shapes = [(a, b) for mlp in sizes for a, b in zip(mlp[:-1], mlp[1:], strict=True)]
    ws = [torch.randn(models, a, b, device=device) for a, b in shapes]
    hs = [torch.randn(models, cfg.batch_size, a, device=device) for a, _ in shapes]
    ys = [torch.randn(models, cfg.batch_size, b, device=device) for _, b in shapes]

    def step():
        for i, (w, h, y) in enumerate(zip(ws, hs, ys, strict=True)):
            torch.bmm(h, w)
            torch.bmm(h.transpose(1, 2), y)
            if i > 0:
                torch.bmm(y, w.transpose(1, 2))

    for _ in range(10):
        step()
    t0 = time.perf_counter()
    for _ in range(100):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) * 10


def reference_rate_flushed(x: np.ndarray, cfg: TrainConfig, loss_cfg: LossConfig) -> float:
    """The reference loop with denormals flushed to zero, as our trainer runs on a CPU."""
    torch.set_flush_denormal(True)
    try:
        return reference_loop(x, cfg, loss_cfg)
    finally:
        torch.set_flush_denormal(False)


def grid_configs(size: int) -> list[LossConfig]:
    """Half beta-VAEs (beta 1, 2, 4, ...), half capacity models (gamma 1000, C 5, 10, 15, ...)."""
    half = size // 2
    betas = [LossConfig(f"b{2**i}_c0", beta=float(2**i)) for i in range(size - half)]
    return betas + [LossConfig(f"g1000_c{5 * (i + 1)}", capacity_nats=5.0 * (i + 1)) for i in range(half)]


def median_rate(history: list[dict]) -> float:
    return float(np.median([h["samples_per_s"] for h in history]))


def sines(samples: int, length: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, length)
    x = rng.uniform(0.5, 2, (samples, 1)) * np.sin(2 * np.pi * (t + rng.uniform(0, 1, (samples, 1))))
    return x.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--length", type=int, default=187)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--grid", type=int, default=16)
    parser.add_argument("--full-epochs", type=int, default=0)
    parser.add_argument("--full-samples", type=int, default=15_000)
    args = parser.parse_args()
    x = sines(args.samples, args.length)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch, checkpoint_every=0)
    device = pick_device(cfg.device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
    one = LossConfig("b4_c0", beta=4.0)
    rows = [("(a) reference: TensorDataset + DataLoader(shuffle) + .to(device), Adam", reference_loop(x, cfg, one))]
    if device.type == "cpu":
        rows.append(("(a') the reference loop with denormals flushed to zero", reference_rate_flushed(x, cfg, one)))
    variants = {"(b) ours: train_vae": cfg}
    if device.type == "cuda":
        variants |= {
            "(b) ours, bf16 autocast": replace(cfg, amp="bf16"),
            "(b) ours, torch.compile": replace(cfg, compile=True),
            "(b) ours, torch.compile, bf16": replace(cfg, compile=True, amp="bf16"),
            "(b) ours, no CUDA graphs": replace(cfg, cuda_graphs=False),
        }
    for label, variant in variants.items():
        rows.append((label, median_rate(train_vae(x, variant, one)[1])))
    reference, single = rows[0][1], dict(rows)["(b) ours: train_vae"]

    configs = grid_configs(args.grid)
    grid_rate = median_rate(train_grid(x, cfg, configs)[0][1]) * len(configs)  # model-samples/s
    grid_variants = {}  # label -> (grid model-samples/s, one config's samples/s with the same settings)
    if device.type == "cuda":
        for label, key in (
            ("bf16 autocast", "(b) ours, bf16 autocast"),
            ("torch.compile", "(b) ours, torch.compile"),
        ):
            rate = median_rate(train_grid(x, variants[key], configs)[0][1]) * len(configs)
            grid_variants[label] = rate, dict(rows)[key]
    t0 = time.perf_counter()
    for loss_cfg in configs:
        train_vae(x, cfg, loss_cfg)
    sequential = len(configs) * cfg.epochs * len(x) / (time.perf_counter() - t0)
    grid_cost = single * len(configs) / grid_rate  # grid epoch time over one config's

    print(f"## Training throughput ({args.samples:,} x {args.length}, batch {args.batch}, {args.epochs} epochs, "
          f"{device.type}: {name}, torch {torch.__version__})\n")  # fmt: skip
    print("| trainer | samples/s | vs (a) |\n|---|---|---|")
    for label, rate in rows:
        print(f"| {label} | {rate:,.0f} | {rate / reference:.2f}x |")
    print(f"\n| grid of {len(configs)} configs | model-samples/s | epoch time vs one config |\n|---|---|---|")
    print(f"| (c) train_grid, one vectorised pass | {grid_rate:,.0f} | {grid_cost:.2f}x |")
    for label, (rate, alone) in grid_variants.items():
        print(f"| (c) train_grid, {label} | {rate:,.0f} | {alone * len(configs) / rate:.2f}x |")
    print(f"| (c) {len(configs)} sequential train_vae runs (wall, all included) | {sequential:,.0f} | "
          f"{len(configs) * single / sequential:.2f}x |")  # fmt: skip
    print(f"\nOurs vs reference: {single / reference:.2f}x. The grid of {len(configs)} costs {grid_cost:.2f}x one "
          f"config's time, {grid_rate / sequential:.2f}x faster than running them one after another.")  # fmt: skip
    step_ms = 1e3 * args.batch / single
    floor_ms, one_ms = matmul_ms(len(configs), args.length, cfg), matmul_ms(1, args.length, cfg)
    print(f"\nFloor: the matrix multiplies alone of a grid step take {floor_ms:.2f} ms = {floor_ms / step_ms:.2f}x one "
          f"config's whole step ({step_ms:.2f} ms; its matmuls alone {one_ms:.2f} ms).")  # fmt: skip
    if args.full_epochs:
        xf = sines(args.full_samples, args.length, seed=1)
        for label, key in (("defaults", "(b) ours: train_vae"), ("torch.compile", "(b) ours, torch.compile")):
            if key in variants:
                t0 = time.perf_counter()
                _, history = train_vae(xf, replace(variants[key], epochs=args.full_epochs), one)
                wall = time.perf_counter() - t0
                epochs = sum(h["seconds"] for h in history)
                print(f"\nOne config ({label}), {args.full_epochs} epochs x {args.full_samples:,} samples: "
                      f"{wall:.2f} s end to end, {epochs:.2f} s in the epochs alone")  # fmt: skip


if __name__ == "__main__":
    main()
