"""Training-throughput benchmark: our trainer (data resident on the device, sliced per batch) against a reference
loop in the style of the popular PyTorch VAE ports (TensorDataset + DataLoader(shuffle=True) + per-batch
`.to(device)`), same data, model, loss, batch size and epochs, in the same run.

    python -m benchmarks.training [--samples 20000] [--length 187] [--epochs 5] [--batch 64]

Prints samples/s for both and the ratio. (The vectorised 16-config grid of issue 6 is not built yet.)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from pipelines.vae.losses import LossConfig, gaussian_recon, kl_per_latent, vae_loss
from pipelines.vae.model import BetaVAE, ModelConfig
from pipelines.vae.trainer import TrainConfig, pick_device, train_vae


def reference_loop(x: np.ndarray, cfg: TrainConfig, loss_cfg: LossConfig) -> float:
    """Samples/s of the DataLoader loop over the same model and loss (no capacity annealing: beta-VAE)."""
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    model = BetaVAE(ModelConfig(x.shape[1], cfg.latent_dim, tuple(cfg.hidden)), float(x.mean()), float(x.std()))
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loader = DataLoader(TensorDataset(torch.as_tensor(x, dtype=torch.float32)), batch_size=cfg.batch_size, shuffle=True)
    t0 = time.perf_counter()
    for _ in range(cfg.epochs):
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
    return cfg.epochs * len(x) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--length", type=int, default=187)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, args.length)
    x = rng.uniform(0.5, 2, (args.samples, 1)) * np.sin(2 * np.pi * (t + rng.uniform(0, 1, (args.samples, 1))))
    x = x.astype(np.float32)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch, checkpoint_every=0)
    loss_cfg = LossConfig("b4_c0", beta=4.0)
    reference = reference_loop(x, cfg, loss_cfg)
    _, history = train_vae(x, cfg, loss_cfg)
    ours = float(np.median([h["samples_per_s"] for h in history]))
    device = pick_device(cfg.device)
    print(f"## Training throughput ({args.samples:,} x {args.length}, batch {args.batch}, {args.epochs} epochs, "
          f"{device.type}, torch {torch.__version__})\n")  # fmt: skip
    print("| trainer | samples/s |\n|---|---|")
    print(f"| reference: TensorDataset + DataLoader(shuffle) + .to(device) | {reference:,.0f} |")
    print(f"| ours: resident tensor sliced per batch (median epoch) | {ours:,.0f} |")
    print(f"\nRatio ours / reference: {ours / reference:.2f}x")


if __name__ == "__main__":
    main()
