"""Helpers the supervised disentanglement metrics share, as in disentanglement_lib's
`evaluation/metrics/utils.py` (google-research/disentanglement_lib).

Shape convention (disentanglement_lib's): codes are (num_codes, num_points), factors (num_factors, num_points).
"""

from __future__ import annotations

from math import log

import numpy as np


def histogram_discretize(values: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Each row of `values` (K, N) binned into `num_bins` equal-width bins over its own range, (K, N) ints."""
    out = np.zeros(values.shape, dtype=np.int64)
    for i, row in enumerate(values):
        edges = np.histogram(row, bins=num_bins)[1]
        out[i] = np.digitize(row, edges[:-1])
    return out


def discretize_factors(factors: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """Factors (F, N) as integer labels: a factor with at most `num_bins` distinct values keeps them as
    categories; a continuous one is binned like the codes (equal width, `num_bins` bins)."""
    out = np.zeros(factors.shape, dtype=np.int64)
    for i, row in enumerate(factors):
        uniques, inverse = np.unique(row, return_inverse=True)
        out[i] = inverse if len(uniques) <= num_bins else histogram_discretize(row[None], num_bins)[0]
    return out


def discrete_mutual_info(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Mutual information in nats between each discrete code (K, N) and factor (F, N): matrix (K, F)."""
    assert codes.shape[1] == factors.shape[1], (codes.shape, factors.shape)
    labels_f, labels_c = [_labels(f) for f in factors], [_labels(c) for c in codes]
    return np.array([[mutual_info(f, c) for f in labels_f] for c in labels_c]).reshape(len(codes), len(factors))


def discrete_entropy(factors: np.ndarray) -> np.ndarray:
    """Entropy in nats of each discrete factor (F, N): vector (F,)."""
    return np.array([mutual_info(f, f) for f in map(_labels, factors)])


def _labels(row: np.ndarray) -> tuple[np.ndarray, int]:
    """A discrete variable as (its values numbered 0..k-1 in sorted order, k)."""
    uniques, inverse = np.unique(row, return_inverse=True)
    return inverse.ravel(), len(uniques)


def mutual_info(x: tuple[np.ndarray, int], y: tuple[np.ndarray, int]) -> float:
    """sklearn's `mutual_info_score(x, y)` of two variables numbered by `_labels`, to the last bit: its terms, in
    its order (the contingency table's non-zero cells, row by row), from a table counted with one np.bincount.
    sklearn's own call spends ~4 ms validating its input, and the metrics of one model make ~250 of them."""
    (x, nx), (y, ny) = x, y
    if nx == 1 or ny == 1:  # one variable is constant: MI <= its entropy = 0
        return 0.0
    contingency = np.bincount(x * ny + y, minlength=nx * ny).reshape(nx, ny)
    nzx, nzy = np.nonzero(contingency)
    nz_val, total = contingency[nzx, nzy], contingency.sum()
    pi, pj = contingency.sum(axis=1), contingency.sum(axis=0)
    log_outer = -np.log(pi.take(nzx) * pj.take(nzy)) + log(pi.sum()) + log(pj.sum())
    contingency_nm = nz_val / total
    mi = contingency_nm * (np.log(nz_val) - log(total)) + contingency_nm * log_outer
    mi = np.where(np.abs(mi) < np.finfo(mi.dtype).eps, 0.0, mi)
    return float(np.clip(mi.sum(), 0.0, None))


def check_shapes(codes, factors) -> tuple[np.ndarray, np.ndarray]:
    """Codes and factors as float arrays (num_codes, num_points) and (num_factors, num_points); ValueError when
    either is not 2-D or they disagree on the number of points."""
    codes, factors = np.asarray(codes, dtype=np.float64), np.asarray(factors, dtype=np.float64)
    if codes.ndim != 2 or factors.ndim != 2:
        raise ValueError(f"codes and factors must be 2-D (num, num_points), got {codes.shape} and {factors.shape}")
    if codes.shape[1] != factors.shape[1]:
        raise ValueError(f"codes have {codes.shape[1]} points, factors {factors.shape[1]}")
    return codes, factors
