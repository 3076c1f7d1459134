"""Does the known effect show? A beta/C sweep trained in one vectorised pass per seed on a training set with known
factors, scored with every disentanglement metric; prints mean ± std over seeds per config as Markdown.

    python -m benchmarks.sweep_effect data/ecg/training_set.npz [--seeds 3] [--epochs 50] [--sigma 0.1]

Larger synthetic sets than the demo's come from the same stages with bigger `synthetic_ecg.n_patients` or
`synthetic_btc.days` in a scratch workspace's params.yaml.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from pipelines.dataset import TrainingSet
from pipelines.evaluation.summary import EvalConfig, probe_scores, summarize_model
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
]
SHOWN = ["mig", "sap", "dci_disentanglement", "dci_completeness", "modularity", "recon_rmse", "kl_total",
         "active_units", "probe_mi_auroc", "probe_next_vol_r2"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--sigma", type=float, default=0.1)
    args = parser.parse_args()
    data = TrainingSet.load(args.data)
    cfg = TrainConfig(epochs=args.epochs, recon_sigma=args.sigma, checkpoint_every=0)
    scores: dict[str, list[dict]] = {c.name: [] for c in GRID}
    t0 = time.perf_counter()
    for seed in range(args.seeds):
        for (model, _), loss_cfg in zip(
            train_grid(data.part("train").x, replace(cfg, seed=seed), GRID), GRID, strict=True
        ):
            summary = summarize_model(model, data, EvalConfig(seed=seed)) | probe_scores(model, data)
            scores[loss_cfg.name].append(summary)
    device = pick_device(cfg.device)
    where = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(f"## Sweep effect: {args.data} ({len(data):,} samples, {data.factor_kind} factors: "
          f"{', '.join(data.factor_names)})\n")  # fmt: skip
    print(f"{args.seeds} seeds x {len(GRID)} configs, {args.epochs} epochs, recon σ {args.sigma}, {where}, "
          f"{time.perf_counter() - t0:.0f} s. Mean ± std over seeds.\n")  # fmt: skip
    shown = [k for k in SHOWN if k in scores[GRID[0].name][0]]
    print("| config | " + " | ".join(shown) + " |")
    print("|---" * (len(shown) + 1) + "|")
    for name, runs in scores.items():
        cells = [f"{np.mean([r[k] for r in runs]):.3f} ± {np.std([r[k] for r in runs]):.3f}" for k in shown]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
