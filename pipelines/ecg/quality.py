"""The heartbeat quality filter (step 5 of the recipe in pipelines.ecg.beats): each beat that fails it is
quarantined with its reasons instead of entering the training set.

Tests run on the beat in mV (B, L), whatever the recipe makes of it afterwards, with thresholds from `beats` in
params.yaml: `clipped` (|x| beyond `max_abs_mv` or non-finite: electrode motion, ADC clipping), `flat`
(peak-to-peak below `min_ptp_mv`: no QRS), `noisy` (std of the second difference over peak-to-peak above
`max_noise_ratio`; clean beats stay below 0.1 on PTB and the synthetic data) and `rr outlier` (RR differs from
the record's median RR by more than `max_rr_deviation`, relative: a missed or false R peak).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pipelines.ecg.beats import BeatConfig


def beat_quality(beats_mv: np.ndarray, rr_s: np.ndarray, cfg: BeatConfig) -> np.ndarray:
    """Per beat (B,) the reasons it fails the quality filter, joined by '; ' ('' when it passes), for beats
    (B, L) in mV and their RR intervals (B,) in s."""
    ptp = np.ptp(np.nan_to_num(beats_mv), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        noise = np.std(np.diff(beats_mv, n=2, axis=1), axis=1) / ptp
        rr_dev = np.abs(rr_s / np.nanmedian(rr_s) - 1.0) if len(rr_s) else rr_s
    tests = {
        f"clipped (|x| > {cfg.max_abs_mv:g} mV or non-finite)": ~np.isfinite(beats_mv).all(axis=1)
        | (np.abs(np.nan_to_num(beats_mv)).max(axis=1, initial=0) > cfg.max_abs_mv),
        f"flat (peak-to-peak < {cfg.min_ptp_mv:g} mV)": ptp < cfg.min_ptp_mv,
        f"noisy (noise ratio > {cfg.max_noise_ratio:g})": ~(noise <= cfg.max_noise_ratio),
        f"rr outlier (> {cfg.max_rr_deviation:.0%} from the median RR)": ~(rr_dev <= cfg.max_rr_deviation),
    }
    reasons = np.full(len(beats_mv), "", dtype=object)
    for reason, failed in tests.items():
        reasons[failed] = np.where(reasons[failed] == "", reason, reasons[failed] + "; " + reason)
    return reasons
