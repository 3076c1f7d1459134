"""Does the known effect show? The study behind the report: every config of params.yaml's sweep (or, with
--wide, more of each kind) x seeds trained in one vectorised pass on a training set with known factors, scored on
the test split with every disentanglement metric and, per factor, the largest |Spearman rho| of one latent;
beside the PCA-10 and FastICA-10 baselines. Prints the median [IQR] over seeds per config as Markdown.

    python -m benchmarks.sweep_effect data/ecg/training_set.npz [--seeds 5] [--wide] [--params params.yaml]
                                      [--epochs N] [--lr LR] [--sigma S]   # override params.yaml's `train`

Training follows params.yaml's `train` section (epochs, lr, recon_sigma, network) unless overridden; progress
(each epoch of the grid, each model scored) goes to stderr, the table to stdout.

`make study` runs it on both embedded training sets with 5 seeds (benchmarks/results-study.md).

Larger synthetic sets than the demo's come from the same stages with bigger `synthetic_ecg.n_patients` or
`synthetic_btc.days` in a scratch workspace's params.yaml.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import replace

import numpy as np
import torch
from scipy.stats import spearmanr

from pipelines.dataset import TrainingSet
from pipelines.evaluation.baselines import fit_baselines, linear_baselines
from pipelines.evaluation.config import EvalConfig
from pipelines.evaluation.scores import ORACLE
from pipelines.evaluation.summary import encode, probe_scores, summarize_model
from pipelines.params import Params
from pipelines.vae.devices import flush_denormals_in_cpu_pool, pick_device
from pipelines.vae.regularizers import LossConfig
from pipelines.vae.trainer import train_grid

WIDE = [
    LossConfig("b1_c0", "beta", beta=1.0),
    LossConfig("b4_c0", "beta", beta=4.0),
    LossConfig("b16_c0", "beta", beta=16.0),
    LossConfig("b64_c0", "beta", beta=64.0),
    LossConfig("g1000_c10", "capacity", capacity_nats=10.0),
    LossConfig("g1000_c25", "capacity", capacity_nats=25.0),
    LossConfig("tc6", "tcvae", beta=6.0),
    LossConfig("tc10", "tcvae", beta=10.0),
    LossConfig("tc12", "tcvae", beta=12.0),
    LossConfig("dip10", "dipvae", lambda_od=10.0, lambda_d=10.0),
]
SHOWN = ["mig", "mig_non_rr", "dci_disentanglement", "beta_vae_eval", "factor_vae_eval", "sap", "modularity",
         "recon_rmse", "kl_total", "active_units", "probe_mi_auroc", "probe_next_vol_r2", "probe_ischemia_auroc",
         "probe_lvh_auroc", "probe_sinus_rhythm_auroc"]  # fmt: skip


def rho_per_factor(codes: np.ndarray, factors: np.ndarray, names: list[str]) -> dict:
    """{rho_<factor>: the largest |Spearman rho| of one code with it}, codes (N, D) and factors (N, F), each factor
    on the rows where it is known (a missing mark leaves it NaN)."""
    out = {}
    for j, name in enumerate(names):
        known = np.isfinite(factors[:, j])
        rho = spearmanr(codes[known], factors[known, j]).statistic[:-1, -1] if known.sum() > 2 else np.nan
        out[f"rho_{name}"] = float(np.nanmax(np.abs(rho))) if np.isfinite(rho).any() else float("nan")
    return out


def score_model(model, data: TrainingSet) -> dict:
    """Every score of a trained model on the test split: the metrics, the probes and each factor's best |rho|."""
    test = data.part("test")
    summary = summarize_model(model, data, EvalConfig()) | probe_scores(model, data)
    return summary | rho_per_factor(encode(model, test.x)[0], test.factors, test.factor_names)


def score_grid(trained, data: TrainingSet, configs: list[str], prefix: str = "") -> dict[str, list[dict]]:
    """Every member of a trained grid (train_grid's result) scored by `score_model`, by `prefix` + config name in
    the order of `configs`; a diverged member is listed as failed with its reason and the study goes on."""
    scores: dict[str, list[dict]] = {prefix + c: [] for c in configs}
    for (config, seed), reason in trained.failed.items():
        scores[prefix + config].append({"seed": seed, "failed": reason})
    for i, ((config, seed), (model, _)) in enumerate(trained.items(), 1):
        scores[prefix + config].append(score_model(model, data))
        logging.getLogger("benchmarks.sweep_effect").info("scored %s seed %d (%d/%d)", config, seed, i, len(trained))
    return scores


def baseline_scores(data: TrainingSet) -> dict[str, list[dict]]:
    """PCA-10 and FastICA-10 (fitted on the train split, scored as the report scores them, with each factor's best
    |rho|) and, for annotated factors, the oracle: the factors themselves as codes, MIG's ceiling on this data."""
    test, baselines = data.part("test"), linear_baselines(data, EvalConfig())
    out = {}
    for name, model in fit_baselines(data.part("train").x).items():
        codes = model.transform(test.x.astype(np.float64))
        out[name] = [baselines[name] | rho_per_factor(codes, test.factors, test.factor_names)]
    if ORACLE in baselines:
        out[ORACLE] = [baselines[ORACLE]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--params", default="params.yaml", help="its `train` section and `sweep` are used")
    parser.add_argument("--epochs", type=int, help="default: params.yaml's train.epochs")
    parser.add_argument("--lr", type=float, help="default: params.yaml's train.lr")
    parser.add_argument("--sigma", type=float, help="default: params.yaml's train.recon_sigma")
    parser.add_argument("--wide", action="store_true", help="more configs of each kind than params.yaml's sweep")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")  # progress, on stderr
    flush_denormals_in_cpu_pool()  # as the pipeline's entry points do, before torch runs
    params = Params.load(args.params)
    grid = WIDE if args.wide else list(params.sweep)
    data = TrainingSet.load(args.data)
    overrides = {"epochs": args.epochs, "lr": args.lr, "recon_sigma": args.sigma}
    cfg = replace(params.train, seed=0, seeds=args.seeds, checkpoint_every=0,
                  **{k: v for k, v in overrides.items() if v is not None})  # fmt: skip
    t0 = time.perf_counter()
    seeds = list(range(args.seeds))
    trained = train_grid(data.part("train").x, cfg, grid, seeds=seeds)
    scores = score_grid(trained, data, [c.name for c in grid])
    elapsed = time.perf_counter() - t0
    scores |= baseline_scores(data)
    device = pick_device(cfg.device)
    where = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(f"## Sweep effect: {args.data} ({len(data):,} samples, {data.factor_kind} factors: "
          f"{', '.join(data.factor_names)})\n")  # fmt: skip
    print(f"{args.seeds} seeds x {len(grid)} configs, {cfg.epochs} epochs, lr {cfg.lr:g}, recon σ {cfg.recon_sigma}, "
          f"{where}, {elapsed:.0f} s. Median [IQR] over seeds, every score on the test split; rho_<factor>: the "
          "largest |Spearman rho| of one latent mean with the factor; mig__<factor>: the factor's own MIG gap; "
          "mig_non_rr: MIG over the factors other than heart rate (the RR channel hands it over). PCA-10 and "
          "FastICA-10: fitted on the training split, one value.\n")  # fmt: skip
    print_table(scores, data.factor_names)


def variant_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every variant study shares (benchmarks.conv_variant, benchmarks.unlabelled_variant)."""
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--configs", default="tc12,b16_c0", help="names from params.yaml's sweep")
    parser.add_argument("--epochs", type=int, help="default: params.yaml's train.epochs")
    parser.add_argument("--params", default="params.yaml")


def print_table(scores: dict[str, list[dict]], factor_names: list[str]) -> None:
    """The Markdown table: one row per config (median [IQR] over its seeds, failed seeds counted) or baseline."""
    first = next(r for every in scores.values() for r in every if "failed" not in r)  # the baselines at least
    shown = [k for k in SHOWN if k in first] + [f"rho_{name}" for name in factor_names]
    shown += [f"mig__{name}" for name in factor_names]
    print("| config | " + " | ".join(shown) + " |")
    print("|---" * (len(shown) + 1) + "|")
    for name, every in scores.items():
        runs = [r for r in every if "failed" not in r]
        quartiles = [np.percentile([r.get(k, np.nan) for r in runs] or [np.nan], [25, 50, 75]) for k in shown]
        cells = [f"{q[1]:.3f} [{q[0]:.3f}, {q[2]:.3f}]" if len(runs) > 1 else f"{q[1]:.3f}" for q in quartiles]
        diverged = f" ({len(every) - len(runs)} of {len(every)} seeds diverged)" if len(runs) < len(every) else ""
        print(f"| {name}{diverged} | " + " | ".join(cells) + " |")
    for reason in (r["failed"] for every in scores.values() for r in every if "failed" in r):
        print(f"\nDiverged: {reason}")


if __name__ == "__main__":
    main()
