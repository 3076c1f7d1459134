"""Mutual Information Gap (MIG), from Chen et al. 2018, "Isolating Sources of Disentanglement in Variational
Autoencoders", NeurIPS, https://arxiv.org/abs/1802.04942; computed as disentanglement_lib's `mig.py`.

For each factor, the gap between the largest and second-largest mutual information of any code with it,
divided by the factor's entropy; MIG is the mean over factors. Codes (posterior means) are binned into
`num_bins` equal-width bins; continuous factors are binned the same way (see discretize.discretize_factors).
A factor with zero entropy (constant) has no defined gap and is left out of the mean.
"""

from __future__ import annotations

import numpy as np

from pipelines.evaluation.discretize import (
    check_shapes,
    discrete_entropy,
    discrete_mutual_info,
    discretize_factors,
    histogram_discretize,
)


def mig(codes: np.ndarray, factors: np.ndarray, num_bins: int = 20) -> dict:
    """MIG of codes (num_codes, num_points) against factors (num_factors, num_points).

    Returns {"mig": mean gap, "mig_per_factor": list (NaN for constant factors), "mig_top_code": the index of the
    code with the largest mutual information with each factor}.
    Raises ValueError when codes and factors disagree on the number of points or fewer than two codes exist.
    """
    codes, factors = check_shapes(codes, factors)
    if codes.shape[0] < 2:
        raise ValueError("MIG needs at least two codes")
    m = discrete_mutual_info(histogram_discretize(codes, num_bins), discretize_factors(factors, num_bins))
    entropy = discrete_entropy(discretize_factors(factors, num_bins))
    top2 = np.sort(m, axis=0)[::-1][:2]  # (2, F)
    with np.errstate(divide="ignore", invalid="ignore"):
        gaps = np.where(entropy > 0, (top2[0] - top2[1]) / entropy, np.nan)
    score = float(np.nanmean(gaps)) if np.isfinite(gaps).any() else float("nan")
    top = [int(i) for i in np.argmax(m, axis=0)]
    return {"mig": score, "mig_per_factor": [float(g) for g in gaps], "mig_top_code": top}
