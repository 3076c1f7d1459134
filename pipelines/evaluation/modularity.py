"""Modularity and explicitness, from Ridgeway & Mozer 2018, "Learning Deep Disentangled Embeddings With the
F-Statistic Loss", NeurIPS, https://arxiv.org/abs/1802.05312 (Section 3); computed as disentanglement_lib's
`modularity_explicitness.py`.

Modularity: with m_if the mutual information of (binned) code i and (discretized) factor f, theta_i = max_f m_if
and the template t_if = theta_i for the arg-max factor and 0 elsewhere, code i deviates by
delta_i = sum_f (m_if - t_if)^2 / (theta_i^2 (F - 1)); its modularity is 1 - delta_i (0 for a code with no
information), averaged over codes. Explicitness: a logistic regression from all (standardized) codes to each
discretized factor; the one-vs-rest ROC AUC of each class, averaged over classes and then factors, on the train
part and on a seeded held-out test part. Modularity uses all points (it fits nothing), as MIG does.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from pipelines.evaluation.auc import roc_auc
from pipelines.evaluation.dci import split_points
from pipelines.evaluation.discretize import check_shapes, discrete_mutual_info, discretize_factors, histogram_discretize


def modularity_score(mutual_information: np.ndarray) -> float:
    """Mean modularity over codes of a mutual-information matrix (num_codes, num_factors >= 2)."""
    squared = np.square(np.asarray(mutual_information, dtype=np.float64))
    if squared.ndim != 2 or squared.shape[1] < 2:
        raise ValueError(f"modularity needs a (num_codes, num_factors >= 2) matrix, got shape {squared.shape}")
    top = squared.max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_code = 1.0 - (squared.sum(axis=1) - top) / (top * (squared.shape[1] - 1))
    return float(np.mean(np.where(top > 0, per_code, 0.0)))


def _one_vs_rest_auc(labels: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    """Mean over classes of the ROC AUC of proba[:, k] for `labels == classes[k]`; classes all or none of the
    labels belong to have no AUC and are skipped (pipelines.evaluation.auc: every class at once)."""
    aucs = roc_auc(labels[:, None] == np.asarray(classes)[None, :], proba)
    return float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan")


def explicitness_per_factor(
    codes_train: np.ndarray, labels_train: np.ndarray, codes_test: np.ndarray, labels_test: np.ndarray
) -> tuple[float, float]:
    """Train and test one-vs-rest ROC AUC of a logistic regression from standardized codes (num_codes, n) to one
    factor's integer labels (n,). NaN for a factor with fewer than two classes in the train part."""
    if len(np.unique(labels_train)) < 2:
        return float("nan"), float("nan")
    mean, std = codes_train.mean(axis=1, keepdims=True), codes_train.std(axis=1, keepdims=True)
    std = np.where(std > 0, std, 1.0)
    x_train, x_test = ((codes_train - mean) / std).T, ((codes_test - mean) / std).T
    clf = LogisticRegression(max_iter=1000).fit(x_train, labels_train)
    return (
        _one_vs_rest_auc(labels_train, clf.predict_proba(x_train), clf.classes_),
        _one_vs_rest_auc(labels_test, clf.predict_proba(x_test), clf.classes_),
    )


def modularity(
    codes: np.ndarray, factors: np.ndarray, *, test_fraction: float = 0.25, seed: int = 0, num_bins: int = 20
) -> dict:
    """Modularity and explicitness of codes (num_codes, num_points) against factors (num_factors, num_points).

    Codes are binned into `num_bins` equal-width bins, factors discretized as for MIG.
    Returns {"modularity", "explicitness_train", "explicitness_test"} (explicitness: mean over non-constant
    factors). Raises ValueError on mismatched point counts, fewer than two factors, or a bad split.
    """
    codes, factors = check_shapes(codes, factors)
    if factors.shape[0] < 2:
        raise ValueError("modularity needs at least two factors")
    labels = discretize_factors(factors, num_bins)
    score = modularity_score(discrete_mutual_info(histogram_discretize(codes, num_bins), labels))
    train, test = split_points(codes.shape[1], test_fraction, seed)
    auc = np.array([explicitness_per_factor(codes[:, train], y[train], codes[:, test], y[test]) for y in labels])
    explicit = np.isfinite(auc[:, 0]).any()
    return {
        "modularity": score,
        "explicitness_train": float(np.nanmean(auc[:, 0])) if explicit else float("nan"),
        "explicitness_test": float(np.nanmean(auc[:, 1])) if explicit else float("nan"),
    }
