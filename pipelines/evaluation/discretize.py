"""Helpers the supervised disentanglement metrics share, as in disentanglement_lib's
`evaluation/metrics/utils.py` (google-research/disentanglement_lib).

Shape convention (disentanglement_lib's): codes are (num_codes, num_points), factors (num_factors, num_points).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mutual_info_score


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
    m = np.array([[mutual_info_score(f, c) for f in factors] for c in codes])
    assert m.shape == (codes.shape[0], factors.shape[0]), m.shape
    return m


def discrete_entropy(factors: np.ndarray) -> np.ndarray:
    """Entropy in nats of each discrete factor (F, N): vector (F,)."""
    return np.array([mutual_info_score(f, f) for f in factors])


def check_shapes(codes, factors) -> tuple[np.ndarray, np.ndarray]:
    """Codes and factors as float arrays (num_codes, num_points) and (num_factors, num_points); ValueError when
    either is not 2-D or they disagree on the number of points."""
    codes, factors = np.asarray(codes, dtype=np.float64), np.asarray(factors, dtype=np.float64)
    if codes.ndim != 2 or factors.ndim != 2:
        raise ValueError(f"codes and factors must be 2-D (num, num_points), got {codes.shape} and {factors.shape}")
    if codes.shape[1] != factors.shape[1]:
        raise ValueError(f"codes have {codes.shape[1]} points, factors {factors.shape[1]}")
    return codes, factors
