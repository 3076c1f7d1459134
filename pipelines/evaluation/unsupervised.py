"""Unsupervised scores of a representation, which need no factors: disentanglement_lib's
`unsupervised_metrics.py` (Locatello et al. 2019, "Challenging Common Assumptions in the Unsupervised Learning of
Disentangled Representations", ICML, https://arxiv.org/abs/1811.12359), and active units
(Burda, Grosse & Salakhutdinov 2016, "Importance Weighted Autoencoders", ICLR, https://arxiv.org/abs/1509.00519),
counted here by each latent's mean KL to the prior rather than by the variance of its posterior mean.

Gaussian total correlation: the KL divergence between N(0, C) and N(0, diag(C)) for the covariance C of the
posterior means, 0.5 (sum_i log C_ii - log det C). Gaussian Wasserstein correlation: the squared 2-Wasserstein
distance between the same two Gaussians, 2 tr C - 2 tr (diag(C) C)^(1/2). Mutual-information score: the mean
off-diagonal mutual information (nats) between pairs of codes binned into equal-width bins.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.linalg import LinAlgWarning, sqrtm

from pipelines.evaluation.discretize import discrete_mutual_info, histogram_discretize


def _check_cov(cov: np.ndarray) -> np.ndarray:
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"covariance must be a square matrix, got shape {cov.shape}")
    return cov


def gaussian_total_correlation(cov: np.ndarray) -> float:
    """KL(N(0, cov) || N(0, diag(cov))) in nats for a positive-definite covariance (D, D)."""
    cov = _check_cov(cov)
    return float(0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1]))


def gaussian_wasserstein_correlation(cov: np.ndarray) -> float:
    """Squared 2-Wasserstein distance between N(0, cov) and N(0, diag(cov)) for a covariance (D, D)."""
    cov = _check_cov(cov)
    with warnings.catch_warnings():  # a singular cov (duplicated codes) has an exact root; scipy warns anyway
        warnings.simplefilter("ignore", LinAlgWarning)
        root = sqrtm(cov * np.diag(cov)[:, None])  # diag(cov) @ cov
    return float(2.0 * np.trace(cov) - 2.0 * np.trace(root).real)


def unsupervised(mus: np.ndarray, num_bins: int = 20) -> dict:
    """Unsupervised scores of posterior means `mus` (num_codes, num_points).

    Returns {"gaussian_total_correlation", "gaussian_wasserstein_correlation",
    "gaussian_wasserstein_correlation_norm" (divided by the total variance), "mutual_info_score"}. The Gaussian
    scores use the codes of non-zero variance only (a constant code is independent of the rest; its log variance
    is undefined). Raises ValueError for fewer than two codes or two points.
    """
    mus = np.asarray(mus, dtype=np.float64)
    if mus.ndim != 2 or mus.shape[0] < 2 or mus.shape[1] < 2:
        raise ValueError(f"mus must be (num_codes >= 2, num_points >= 2), got shape {mus.shape}")
    varying = mus[mus.std(axis=1) > 0]
    tc = wc = wc_norm = 0.0
    if len(varying):
        cov = np.atleast_2d(np.cov(varying))
        tc, wc = gaussian_total_correlation(cov), gaussian_wasserstein_correlation(cov)
        wc_norm = wc / float(np.trace(cov))
    mi = discrete_mutual_info(*(2 * [histogram_discretize(mus, num_bins)]))
    np.fill_diagonal(mi, 0.0)
    num_codes = mus.shape[0]
    return {
        "gaussian_total_correlation": tc,
        "gaussian_wasserstein_correlation": wc,
        "gaussian_wasserstein_correlation_norm": wc_norm,
        "mutual_info_score": float(mi.sum() / (num_codes**2 - num_codes)),
    }


def active_units(kl_per_latent: np.ndarray, threshold: float = 0.01) -> int:
    """Number of latents whose KL to the prior (nats) exceeds `threshold`. `kl_per_latent` is (num_latents,)
    mean KLs, or (num_latents, num_points) per-sample KLs, averaged over points first."""
    kl = np.asarray(kl_per_latent, dtype=np.float64)
    if kl.ndim == 2:
        kl = kl.mean(axis=1)
    if kl.ndim != 1:
        raise ValueError(f"kl_per_latent must be (num_latents,) or (num_latents, num_points), got shape {kl.shape}")
    return int(np.sum(kl > threshold))


def latent_labels(corr, factor_names: list[str], kl_per_latent, threshold: float = 0.01) -> list[dict]:
    """What each latent is, for people: its KL (nats), whether it is active (KL above `threshold`, as
    `active_units` counts), and the factor it tracks best with that |Spearman rho| (`corr`: latents x factors,
    NaN where undefined; none for a latent with no finite correlation)."""
    corr = np.abs(np.asarray(corr, dtype=np.float64))
    labels = []
    for i, kl in enumerate(np.asarray(kl_per_latent, dtype=np.float64)):
        row = np.where(np.isfinite(corr[i]), corr[i], -1.0)
        best = int(np.argmax(row)) if row.size and row.max() >= 0 else None
        labels.append({"latent": f"z{i}", "kl": float(kl), "active": bool(kl > threshold),
                       "factor": None if best is None else factor_names[best],
                       "rho": None if best is None else float(row[best])})  # fmt: skip
    return labels
