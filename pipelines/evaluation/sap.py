"""Separated Attribute Predictability (SAP), from Kumar, Sattigeri & Balakrishnan 2018, "Variational Inference of
Disentangled Latent Concepts from Unlabeled Observations", ICLR, https://arxiv.org/abs/1711.00848 (Section 3);
computed as disentanglement_lib's `sap_score.py`.

A score matrix S (num_codes, num_factors) says how well each single code predicts each factor: for a continuous
factor the squared Pearson correlation cov(c, f)^2 / (var(c) var(f)) (0 for a code of zero variance), for a
discrete factor the held-out accuracy of a linear SVM (LinearSVC, C=0.01, balanced class weights) from the one
code. SAP of a factor is the gap between the two largest entries of its column; SAP is the mean over factors.
Correlations use all points; the SVMs are fitted on a seeded train part and scored on the rest. A constant factor
has no defined score and is left out of the mean, as MIG does.
"""

from __future__ import annotations

import numpy as np
from sklearn.svm import LinearSVC

from pipelines.evaluation.dci import split_points
from pipelines.evaluation.discretize import check_shapes, discretize_factors


def _squared_correlation(code: np.ndarray, factor: np.ndarray) -> float:
    cov = np.cov(code, factor, ddof=1)
    if cov[1, 1] <= 0.0:
        return float("nan")
    return float(cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1])) if cov[0, 0] > 1e-12 else 0.0


def _svm_accuracy(code_train, labels_train, code_test, labels_test, seed: int) -> float:
    if len(np.unique(labels_train)) < 2:
        return float("nan")
    svm = LinearSVC(C=0.01, class_weight="balanced", random_state=seed)
    svm.fit(code_train[:, None], labels_train)
    return float(np.mean(svm.predict(code_test[:, None]) == labels_test))


def sap_matrix(
    codes: np.ndarray,
    factors: np.ndarray,
    continuous: bool | list[bool] = True,
    *,
    test_fraction: float = 0.25,
    seed: int = 0,
    num_bins: int = 20,
) -> np.ndarray:
    """Score matrix (num_codes, num_factors): squared correlations for continuous factors, held-out LinearSVC
    accuracies for discrete ones (labels from discretize_factors, so a discrete factor with more than `num_bins`
    values is binned). Columns of constant factors are NaN."""
    num_codes, num_factors = codes.shape[0], factors.shape[0]
    kinds = [continuous] * num_factors if isinstance(continuous, bool | np.bool_) else list(continuous)
    if len(kinds) != num_factors:
        raise ValueError(f"continuous has {len(kinds)} entries for {num_factors} factors")
    scores = np.zeros((num_codes, num_factors))
    if not all(kinds):
        train, test = split_points(codes.shape[1], test_fraction, seed)
    for j in range(num_factors):
        if kinds[j]:
            scores[:, j] = [_squared_correlation(c, factors[j]) for c in codes]
        else:
            labels = discretize_factors(factors[j][None], num_bins)[0]
            scores[:, j] = [_svm_accuracy(c[train], labels[train], c[test], labels[test], seed) for c in codes]
    return scores


def sap(codes: np.ndarray, factors: np.ndarray, continuous: bool | list[bool] = True, **options) -> dict:
    """SAP of codes (num_codes, num_points) against factors (num_factors, num_points); `continuous` is one flag for
    all factors or one per factor (disentanglement_lib's `continuous_factors`); `options` (test_fraction, seed,
    num_bins) go to `sap_matrix`.

    Returns {"sap": mean gap, "sap_per_factor": list (NaN for constant factors), "sap_matrix": nested list,
    codes x factors}. Raises ValueError on mismatched point counts, fewer than two codes, or a `continuous` list
    of the wrong length.
    """
    codes, factors = check_shapes(codes, factors)
    if codes.shape[0] < 2:
        raise ValueError("SAP needs at least two codes")
    scores = sap_matrix(codes, factors, continuous, **options)
    top2 = np.sort(scores, axis=0)[::-1][:2]  # (2, F); NaN columns stay NaN
    gaps = top2[0] - top2[1]
    score = float(np.nanmean(gaps)) if np.isfinite(gaps).any() else float("nan")
    return {"sap": score, "sap_per_factor": [float(g) for g in gaps], "sap_matrix": scores.tolist()}
