"""Does the known effect show? A sweep of every kind of model, all configs x seeds trained in one vectorised pass
on a training set with known factors, scored with every disentanglement metric and, per factor, the largest
|Spearman rho| of one latent on the test split; prints the median [IQR] over seeds per config as Markdown.

    python -m benchmarks.sweep_effect data/ecg/training_set.npz [--seeds 5] [--epochs 50] [--sigma 0.1]

Larger synthetic sets than the demo's come from the same stages with bigger `synthetic_ecg.n_patients` or
`synthetic_btc.days` in a scratch workspace's params.yaml.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy.stats import spearmanr

from pipelines.dataset import TrainingSet
from pipelines.evaluation.summary import EvalConfig, encode, probe_scores, summarize_model
from pipelines.vae.devices import pick_device
from pipelines.vae.regularizers import LossConfig
from pipelines.vae.trainer import TrainConfig, train_grid

GRID = [
    LossConfig("b1_c0", "beta", beta=1.0),
    LossConfig("b4_c0", "beta", beta=4.0),
    LossConfig("b16_c0", "beta", beta=16.0),
    LossConfig("b64_c0", "beta", beta=64.0),
    LossConfig("g1000_c10", "capacity", capacity_nats=10.0),
    LossConfig("g1000_c25", "capacity", capacity_nats=25.0),
    LossConfig("tc6", "tcvae", beta=6.0),
    LossConfig("tc10", "tcvae", beta=10.0),
    LossConfig("dip10", "dipvae", lambda_od=10.0, lambda_d=10.0),
]
SHOWN = ["mig", "sap", "dci_disentanglement", "dci_completeness", "modularity", "recon_rmse", "kl_total",
         "active_units", "probe_mi_auroc", "probe_next_vol_r2"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--sigma", type=float, default=0.1)
    args = parser.parse_args()
    data = TrainingSet.load(args.data)
    cfg = TrainConfig(epochs=args.epochs, recon_sigma=args.sigma, checkpoint_every=0)
    scores: dict[str, list[dict]] = {c.name: [] for c in GRID}
    t0 = time.perf_counter()
    seeds = list(range(args.seeds))
    test = data.part("test")
    for g, (model, _) in enumerate(train_grid(data.part("train").x, cfg, GRID, seeds=seeds)):
        seed = seeds[g % len(seeds)]
        summary = summarize_model(model, data, EvalConfig(seed=seed)) | probe_scores(model, data)
        mu, _ = encode(model, test.x)
        rho = np.abs(spearmanr(mu, test.factors).statistic[: mu.shape[1], mu.shape[1] :]).max(axis=0)
        summary |= {f"rho_{name}": float(r) for name, r in zip(test.factor_names, rho, strict=True)}
        scores[GRID[g // len(seeds)].name].append(summary)
    device = pick_device(cfg.device)
    where = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(f"## Sweep effect: {args.data} ({len(data):,} samples, {data.factor_kind} factors: "
          f"{', '.join(data.factor_names)})\n")  # fmt: skip
    print(f"{args.seeds} seeds x {len(GRID)} configs, {args.epochs} epochs, recon σ {args.sigma}, {where}, "
          f"{time.perf_counter() - t0:.0f} s. Median [IQR] over seeds; rho_<factor>: the largest |Spearman rho| of "
          "one latent mean with the factor, on the test split.\n")  # fmt: skip
    shown = [k for k in SHOWN if k in scores[GRID[0].name][0]] + [f"rho_{name}" for name in data.factor_names]
    print("| config | " + " | ".join(shown) + " |")
    print("|---" * (len(shown) + 1) + "|")
    for name, runs in scores.items():
        quartiles = [np.percentile([r[k] for r in runs], [25, 50, 75]) for k in shown]
        cells = [f"{q[1]:.3f} [{q[0]:.2f}, {q[2]:.2f}]" for q in quartiles]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
