"""Does a larger batch converge as well as 64? Trains one config at several batch sizes (learning rate scaled by
sqrt(batch / 64), the usual rule for Adam) on the same data and seeds, and prints the test split's loss terms, the
MIG against the known factors and the wall time of the whole run, as Markdown.

    python -m benchmarks.batch_size data/ecg/training_set.npz [--batches 64 128 256] [--seeds 3] [--epochs 50]
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace

import numpy as np
import torch

from pipelines.dataset import TrainingSet
from pipelines.evaluation.mig import mig
from pipelines.evaluation.summary import encode
from pipelines.vae.devices import flush_denormals_in_cpu_pool, pick_device
from pipelines.vae.losses import LossConfig, gaussian_recon, kl_per_latent
from pipelines.vae.trainer import TrainConfig, train_vae


@torch.no_grad()
def test_terms(model, x: np.ndarray, sigma: float) -> tuple[float, float]:
    """Mean Gaussian recon term (through the posterior mean) and KL per test sample, in nats."""
    data = torch.as_tensor(x)
    mu, logvar = model.encode(data)
    recon = gaussian_recon(model.decode_standardized(mu), model.standardize(data), sigma)
    return float(recon.mean()), float(kl_per_latent(mu, logvar).sum(dim=-1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data")
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=50)
    args = parser.parse_args()
    flush_denormals_in_cpu_pool()  # as the pipeline's entry points do, before torch runs
    data = TrainingSet.load(args.data)
    train, test = data.part("train"), data.part("test")
    base = TrainConfig(epochs=args.epochs, checkpoint_every=0)
    loss_cfg = LossConfig("b4_c0", "beta", beta=4.0)
    rows = []
    for batch in args.batches:
        cfg = replace(base, batch_size=batch, lr=base.lr * math.sqrt(batch / 64))
        runs = []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            model, history = train_vae(train.x, replace(cfg, seed=seed), loss_cfg)
            wall = time.perf_counter() - t0
            recon, kl = test_terms(model, test.x, cfg.recon_sigma)
            codes = encode(model, data.x[:10_000])[0].T
            runs.append((recon, kl, recon + loss_cfg.beta * kl, mig(codes, data.factors[:10_000].T)["mig"], wall,
                         sum(h["seconds"] for h in history)))  # fmt: skip
        rows.append((batch, cfg.lr, np.array(runs)))
    device = pick_device(base.device)
    where = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(f"## Batch size: {args.data} ({len(train):,} train / {len(test):,} test), {loss_cfg.name}, "
          f"{args.epochs} epochs, {args.seeds} seeds, {where}\n")  # fmt: skip
    print("| batch | lr | test recon | test KL | test loss (recon + β·KL) | MIG | run wall (s) | epochs alone (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for batch, lr, runs in rows:
        mean, std = runs.mean(axis=0), runs.std(axis=0)
        stats = enumerate(zip(mean, std, strict=True))
        cells = " | ".join(f"{m:.3f} ± {s:.3f}" if i < 4 else f"{m:.2f}" for i, (m, s) in stats)
        print(f"| {batch} | {lr:.2e} | {cells} |")


if __name__ == "__main__":
    main()
