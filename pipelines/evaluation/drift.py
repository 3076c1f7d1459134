"""Latent drift: whether the codes a model gives the data as now ingested are distributed as the codes of the
data it was trained on, latent by latent. Effect sizes, not p-values alone (with thousands of beats every shift is
"significant"): the two-sample Kolmogorov-Smirnov statistic (the largest gap between the two CDFs, 0 to 1) and
the population stability index over the reference's deciles (PSI: < 0.1 stable, 0.1-0.25 some shift, > 0.25 a
shift worth acting on, the credit-scoring convention), and the mean's shift in reference standard deviations. A
latent moved when an effect size is past its threshold and the KS test says it is not noise."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.evaluation.config import DriftConfig


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of `current` against `reference` over the reference's `bins` quantile bins:
    sum over bins of (q - p) * ln(q / p), each share floored at 1e-4 so that an empty bin is finite."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    p = np.histogram(reference, edges)[0] / len(reference)
    q = np.histogram(current, edges)[0] / len(current)
    p, q = np.clip(p, 1e-4, None), np.clip(q, 1e-4, None)
    return float(np.sum((q - p) * np.log(q / p)))


def latent_drift(reference: np.ndarray, current: np.ndarray, active: list[bool], cfg: DriftConfig) -> pd.DataFrame:
    """One row per latent of codes `reference` (N, D) and `current` (M, D): KS statistic and its p-value, PSI, the
    mean's shift in reference std, and `moved`: an active latent past `cfg.ks_max` or `cfg.psi_max` whose KS p-value
    is below `cfg.alpha` over the number of latents (Bonferroni), so that a small sample's noise is not a shift."""
    from scipy.stats import ks_2samp  # here: scipy.stats takes 1.5 s to import, and every stage imports this module

    rows, alpha = [], cfg.alpha / reference.shape[1]
    for i in range(reference.shape[1]):
        ref, cur = reference[:, i], current[:, i]
        test = ks_2samp(ref, cur)
        score = psi(ref, cur, cfg.bins)
        shift = (cur.mean() - ref.mean()) / max(ref.std(), 1e-12)
        moved = bool(active[i] and test.pvalue < alpha and (test.statistic > cfg.ks_max or score > cfg.psi_max))
        rows.append({"latent": f"z{i}", "active": bool(active[i]), "ks": float(test.statistic),
                     "ks_p": float(test.pvalue), "psi": score, "shift_sd": float(shift), "moved": moved})  # fmt: skip
    return pd.DataFrame(rows)
