"""Disentanglement, Completeness and Informativeness (DCI), from Eastwood & Williams 2018, "A Framework for the
Quantitative Evaluation of Disentangled Representations", ICLR, https://openreview.net/forum?id=By-7dz-AZ;
computed as disentanglement_lib's `dci.py`.

One gradient-boosted-trees classifier per factor predicts the (discretized) factor from all codes; the absolute
feature importances form the importance matrix R (num_codes, num_factors). With P_ij = R_ij / sum_k R_ik:
  disentanglement of code i  D_i = 1 - H_F(P_i.)   (entropy in base num_factors), and D = sum_i rho_i D_i with
                             rho_i = sum_j R_ij / sum_ij R_ij (the code's share of all importance);
  completeness of factor j   C_j = 1 - H_K(P~_.j)  (P~_ij = R_ij / sum_k R_kj, base num_codes), C = mean_j C_j;
  informativeness            the classifiers' accuracy (train and held-out test), averaged over factors.
C is the plain mean of the paper's reference code (github.com/cianeastwood/qedr); disentanglement_lib weights C_j
by the factor's share of importance, which is the same number whenever every column of R has the same sum, as
with gradient-boosted trees (each model's importances sum to 1). Entropies use 0 log 0 = 0 exactly, where
disentanglement_lib adds 1e-11 to every entry (a difference below 1e-9). A factor with no importance (constant)
has no C_j and is left out of the mean, as MIG leaves out constant factors.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.special import xlogy
from sklearn.ensemble import GradientBoostingClassifier

from pipelines.evaluation.discretize import check_shapes, discretize_factors


def split_points(num_points: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and test indices: a seeded random `test_fraction` of range(num_points) is held out."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction}")
    num_test = int(round(test_fraction * num_points))
    if num_test < 1 or num_test > num_points - 1:
        raise ValueError(f"{num_points} points cannot be split into train and test at fraction {test_fraction}")
    order = np.random.default_rng(seed).permutation(num_points)
    return np.sort(order[num_test:]), np.sort(order[:num_test])


def _normalized_entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """Entropy of the non-negative weights `p` normalized along `axis`, in base p.shape[axis] (NaN for zero sums)."""
    total = p.sum(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = p / total
    return -xlogy(q, q).sum(axis=axis) / np.log(p.shape[axis])


def dci_scores(importance_matrix: np.ndarray) -> dict:
    """Disentanglement and completeness of an importance matrix (num_codes, num_factors) of non-negative entries.

    Returns {"dci_disentanglement", "dci_completeness", "dci_disentanglement_per_code" (NaN for codes with no
    importance, which weigh 0), "dci_completeness_per_factor" (NaN for factors with no importance)}.
    """
    r = np.abs(np.asarray(importance_matrix, dtype=np.float64))
    if r.ndim != 2 or r.shape[0] < 2 or r.shape[1] < 2:
        raise ValueError(f"importance matrix must be (num_codes >= 2, num_factors >= 2), got shape {r.shape}")
    per_code = 1.0 - _normalized_entropy(r, axis=1)
    per_factor = 1.0 - _normalized_entropy(r, axis=0)
    if r.sum() == 0.0:
        disentanglement = completeness = 0.0
    else:
        weight = r.sum(axis=1) / r.sum()
        disentanglement = float(np.sum(np.where(weight > 0, per_code, 0.0) * weight))
        completeness = float(np.nanmean(per_factor))
    return {
        "dci_disentanglement": disentanglement,
        "dci_completeness": completeness,
        "dci_disentanglement_per_code": [float(v) for v in per_code],
        "dci_completeness_per_factor": [float(v) for v in per_factor],
    }


def importance_gbt(
    codes_train: np.ndarray,
    labels_train: np.ndarray,
    codes_test: np.ndarray,
    labels_test: np.ndarray,
    n_estimators: int = 100,
    max_depth: int = 3,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Importance matrix (num_codes, num_factors) and per-factor train and test accuracies (num_factors,) of one
    GradientBoostingClassifier per factor (codes (num_codes, n), integer labels (num_factors, n)). A factor with
    fewer than two classes in the train part gets zero importance and NaN accuracies."""
    num_codes, num_factors = codes_train.shape[0], labels_train.shape[0]
    importance = np.zeros((num_codes, num_factors))
    acc_train, acc_test = np.full(num_factors, np.nan), np.full(num_factors, np.nan)

    def fit(j: int) -> GradientBoostingClassifier:
        model = GradientBoostingClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=seed)
        return model.fit(codes_train.T, labels_train[j])

    fitted = [j for j in range(num_factors) if len(np.unique(labels_train[j])) >= 2]
    # one model per factor, in threads: sklearn builds trees without the GIL, and each model is seeded alike
    with ThreadPoolExecutor(max_workers=min(len(fitted), os.cpu_count() or 1) or 1) as pool:
        models = list(pool.map(fit, fitted))
    for j, model in zip(fitted, models, strict=True):
        importance[:, j] = np.abs(model.feature_importances_)
        acc_train[j] = np.mean(model.predict(codes_train.T) == labels_train[j])
        acc_test[j] = np.mean(model.predict(codes_test.T) == labels_test[j])
    return importance, acc_train, acc_test


def dci(
    codes: np.ndarray,
    factors: np.ndarray,
    *,
    test_fraction: float = 0.25,
    seed: int = 0,
    n_estimators: int = 100,
    max_depth: int = 3,
    num_bins: int = 20,
) -> dict:
    """DCI of codes (num_codes, num_points) against factors (num_factors, num_points).

    Factors are discretized (categories kept, continuous ones in `num_bins` equal-width bins, as MIG); a seeded
    `test_fraction` of the points is held out for the test accuracy. disentanglement_lib's defaults are
    n_estimators=100, max_depth=3 (sklearn's); fewer trees are much faster when factors have many bins.

    Returns {"dci_disentanglement", "dci_completeness", "dci_informativeness_train", "dci_informativeness_test"
    (mean accuracies), "importance_matrix" (nested list, codes x factors), and the per-code / per-factor lists of
    dci_scores}. Raises ValueError on mismatched point counts, fewer than two codes or factors, or a bad split.
    """
    codes, factors = check_shapes(codes, factors)
    if codes.shape[0] < 2 or factors.shape[0] < 2:
        raise ValueError("DCI needs at least two codes and two factors")
    labels = discretize_factors(factors, num_bins)
    train, test = split_points(codes.shape[1], test_fraction, seed)
    importance, acc_train, acc_test = importance_gbt(
        codes[:, train], labels[:, train], codes[:, test], labels[:, test], n_estimators, max_depth, seed
    )
    informative = np.isfinite(acc_train).any()
    return {
        **dci_scores(importance),
        "dci_informativeness_train": float(np.nanmean(acc_train)) if informative else float("nan"),
        "dci_informativeness_test": float(np.nanmean(acc_test)) if informative else float("nan"),
        "importance_matrix": importance.tolist(),
    }
