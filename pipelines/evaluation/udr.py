"""Unsupervised Disentanglement Ranking (UDR), from Duan et al. 2020, "Unsupervised Model Selection for Variational
Disentangled Representation Learning", ICLR, https://arxiv.org/abs/1905.12614; computed as disentanglement_lib's
`evaluation/udr/metrics/udr.py` (`udr_sklearn`, with correlation_matrix "spearman" or "lasso").

UDR needs no factors. Its premise: models of one setting (architecture, beta) trained from different seeds agree
with each other, up to permutation and sign of the latents, when they disentangle, and disagree in many ways when
they entangle. Given the codes (posterior means) of M models on the SAME inputs and each model's mean KL to the
prior per latent:
  1. each code is standardised; latents with mean KL <= `kl_threshold` nats (collapsed to the prior, 0.01 as
     disentanglement_lib's `kl_filter_threshold`) are zeroed and, with `filter_low_kl`, left out;
  2. for each ordered pair (i, j) a similarity matrix R (latents of i x latents of j): |Spearman correlation|
     (Duan et al.'s default), or |Lasso coefficients| regressing j's latents on i's (alpha 0.1);
  3. the pairwise score is disentanglement_lib's `relative_strength_disentanglement`:
        ( mean_b max_a R_ab^2 / sum_a R_ab  +  mean_a max_b R_ab^2 / sum_b R_ab ) / 2,
     near 1 when every latent of one model matches one latent of the other, 1/d when all are equally mixed;
  4. a model's UDR is the median of its scores against the other models (column i of the pairwise matrix).

Normalisation: each half of step 3 is divided by its own model's number of informative latents (a mean), as
disentanglement_lib does; Duan et al.'s eq. 3 divides the sum of both halves by d_a + d_b, the same number when
both models have the same number of informative latents. A correlation that is undefined (a constant code) counts
as 0, where disentanglement_lib's NaN would zero a whole half of the score when unfiltered latents are kept. A
pair in which one model has no informative latent scores 0 (disentanglement_lib would fail on an empty matrix).

Shape convention: codes (num_codes, num_points) per model, kl (num_codes,) per model.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.stats import rankdata

log = logging.getLogger(__name__)

METHODS = ("spearman", "lasso")


def relative_strength_disentanglement(corr_matrix: np.ndarray) -> float:
    """Pairwise UDR score of a non-negative similarity matrix (latents of model a, latents of model b): the mean
    over columns of max^2 / sum and over rows likewise, averaged; 0 for an empty or all-zero matrix."""
    r = np.nan_to_num(np.asarray(corr_matrix, dtype=np.float64))
    if r.size == 0:
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        per_column = np.nan_to_num(r.max(axis=0) ** 2 / r.sum(axis=0))  # 0 / 0 for an all-zero column -> 0
        per_row = np.nan_to_num(r.max(axis=1) ** 2 / r.sum(axis=1))
    return float((per_column.mean() + per_row.mean()) / 2)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit norm; constant rows become NaN."""
    centred = x - x.mean(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return centred / np.linalg.norm(centred, axis=1, keepdims=True)


def spearman_correlation_matrix(codes1: np.ndarray, codes2: np.ndarray) -> np.ndarray:
    """|Spearman correlation| between every code of codes1 (D1, N) and of codes2 (D2, N), (D1, D2); NaN where a
    code is constant. Equals scipy.stats.spearmanr pair by pair (Pearson correlation of average ranks)."""
    ranks1, ranks2 = rankdata(codes1, axis=1), rankdata(codes2, axis=1)
    corr = _unit_rows(ranks1) @ _unit_rows(ranks2).T
    return np.abs(np.clip(corr, -1.0, 1.0))


def lasso_correlation_matrix(codes1: np.ndarray, codes2: np.ndarray, alpha: float = 0.1) -> np.ndarray:
    """|Lasso coefficients| (D1, D2) of regressing each code of codes2 (D2, N) on all codes of codes1 (D1, N), as
    disentanglement_lib's `lasso_correlation_matrix` (alpha 0.1; cyclic coordinate descent is deterministic)."""
    from sklearn.linear_model import Lasso

    model = Lasso(alpha=alpha).fit(codes1.T, codes2.T)
    coef = np.atleast_2d(model.coef_)  # (D2, D1)
    return np.abs(coef).T


def _standardize(codes: np.ndarray, informative: np.ndarray) -> np.ndarray:
    """Codes (D, N) standardised per code (ddof 0, as sklearn's StandardScaler; constant codes stay 0), with
    uninformative codes zeroed as in disentanglement_lib."""
    std = codes.std(axis=1, keepdims=True)
    scaled = (codes - codes.mean(axis=1, keepdims=True)) / np.where(std > 0, std, 1.0)
    return scaled * informative[:, None]


def _check_models(codes, kl) -> tuple[list[np.ndarray], list[np.ndarray]]:
    if len(codes) != len(kl):
        raise ValueError(f"got codes of {len(codes)} models but kl of {len(kl)}")
    if len(codes) < 2:
        raise ValueError(f"UDR compares models with each other and needs at least two, got {len(codes)}")
    codes = [np.asarray(c, dtype=np.float64) for c in codes]
    kl = [np.asarray(k, dtype=np.float64) for k in kl]
    for m, (c, k) in enumerate(zip(codes, kl, strict=True)):
        if c.ndim != 2 or c.shape[1] < 2:
            raise ValueError(f"model {m}: codes must be (num_codes, num_points >= 2), got shape {c.shape}")
        if c.shape[1] != codes[0].shape[1]:
            raise ValueError(f"model {m}: codes have {c.shape[1]} points, model 0 has {codes[0].shape[1]}")
        if k.shape != (c.shape[0],):
            raise ValueError(f"model {m}: kl has shape {k.shape}, expected ({c.shape[0]},) (one per code)")
        if not (np.all(np.isfinite(c)) and np.all(np.isfinite(k))):
            raise ValueError(f"model {m}: codes or kl are not all finite")
    return codes, kl


def udr(
    codes: list[np.ndarray],
    kl: list[np.ndarray],
    *,
    method: str = "spearman",
    kl_threshold: float = 0.01,
    filter_low_kl: bool = True,
) -> dict:
    """UDR of M models from their codes on the same inputs, each (num_codes, num_points), and their mean KL per
    latent in nats, each (num_codes,).

    Returns {"udr": [M model scores, median of each column of the pairwise matrix without its diagonal],
    "pairwise": M x M nested list (entry [i][j] from the similarity of i's latents to j's; NaN on the diagonal),
    "num_informative": [latents per model with KL above kl_threshold]}. Raises ValueError on an unknown method,
    fewer than two models, mismatched point counts, or kl that does not match the codes.
    """
    if method not in METHODS:
        raise ValueError(f"unknown UDR method {method!r}, expected one of {METHODS}")
    codes, kl = _check_models(codes, kl)
    informative = [k > kl_threshold for k in kl]
    reps = [_standardize(c, mask) for c, mask in zip(codes, informative, strict=True)]
    num_models = len(reps)
    pairwise = np.full((num_models, num_models), np.nan)
    for i in range(num_models):
        for j in range(num_models):
            if i == j:
                continue
            if method == "lasso":
                corr = lasso_correlation_matrix(reps[i], reps[j])
            else:
                corr = spearman_correlation_matrix(reps[i], reps[j])
            if filter_low_kl:
                corr = corr[informative[i]][:, informative[j]]
            pairwise[i, j] = relative_strength_disentanglement(corr)
    scores = [float(np.median(np.delete(pairwise[:, i], i))) for i in range(num_models)]
    log.info("UDR (%s) of %d models: %s", method, num_models, " ".join(f"{s:.3f}" for s in scores))
    return {
        "udr": scores,
        "pairwise": pairwise.tolist(),
        "num_informative": [int(mask.sum()) for mask in informative],
    }
