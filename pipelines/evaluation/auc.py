"""ROC AUC as the Mann-Whitney statistic of the ranks (ties halved): the value of sklearn's `roc_auc_score` for a
binary label, for many score columns at once and without its per-call input checks, which cost more than the
sum itself when it is called hundreds of times (a bootstrap, a one-vs-rest score over 20 classes)."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> np.ndarray | float:
    """ROC AUC of each column of `scores` (n, K) for the boolean labels `positive` ((n, K), or (n,) shared by
    every column); NaN for a column whose labels are all one class. 1-D `scores` and labels give a float."""
    positive, scores = np.asarray(positive, bool), np.asarray(scores, np.float64)
    flat = scores.ndim == 1
    if flat:
        scores = scores[:, None]
    if positive.ndim == 1:
        positive = np.broadcast_to(positive[:, None], scores.shape)
    n_pos = positive.sum(axis=0)
    n_neg = len(positive) - n_pos
    rank_sums = (rankdata(scores, axis=0) * positive).sum(axis=0)  # average ranks of ties
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = np.where((n_pos > 0) & (n_neg > 0), (rank_sums - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg), np.nan)
    return float(auc[0]) if flat else auc
