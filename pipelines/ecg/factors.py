"""The factors each heartbeat carries: for synthetic records the true factors of the beat whose R peak a detected
peak matches (from `beat_factors.csv`, written by pipelines.synthetic.ecg beside the records); for real records,
proxy factors: heart rate, three morphology measures (QRS duration, ST level, T amplitude) and the healthy flag.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FACTORS_FILE = "beat_factors.csv"  # written by pipelines.synthetic.ecg beside synthetic records
PROXY_FACTORS = ["hr_bpm", "qrs_ms", "st_mv", "t_mv", "healthy"]


def read_true_factors(source: Path) -> tuple[pd.DataFrame | None, list[str]]:
    """The true factors table of `source` (columns record, r_sample, then one per factor), or None for real
    data without one, and the names of the factors the beats will carry (PROXY_FACTORS for real data)."""
    if not (source / FACTORS_FILE).is_file():
        return None, PROXY_FACTORS
    true_factors = pd.read_csv(source / FACTORS_FILE)
    return true_factors, [c for c in true_factors.columns if c not in ("record", "r_sample")]


def record_factors(true_factors: pd.DataFrame | None, record: str) -> pd.DataFrame | None:
    """The rows of `record` in the true factors table, sorted by R-peak sample (None for real data)."""
    if true_factors is None:
        return None
    return true_factors[true_factors.record == record].sort_values("r_sample")


def match_factors(true: pd.DataFrame, r_peaks: np.ndarray, tol: int) -> tuple[np.ndarray, np.ndarray]:
    """Row index into `true` (sorted by r_sample) of the beat nearest each detected peak, and whether it is
    within `tol` samples."""
    ref = true["r_sample"].to_numpy()
    pos = np.clip(np.searchsorted(ref, r_peaks), 1, max(len(ref) - 1, 1))
    left, right = ref[pos - 1], ref[np.minimum(pos, len(ref) - 1)]
    nearest = np.where(np.abs(r_peaks - left) <= np.abs(r_peaks - right), pos - 1, np.minimum(pos, len(ref) - 1))
    return nearest, np.abs(ref[nearest] - r_peaks) <= tol


def proxy_factors(beats_mv: np.ndarray, rr_s: np.ndarray, axis_ms: np.ndarray, healthy: bool) -> np.ndarray:
    """(B, 5) PROXY_FACTORS of real beats (B, L) in mV: heart rate (bpm) from the RR before each beat (s), the
    morphology() measures, and the record's healthy flag."""
    return np.column_stack([60.0 / rr_s, morphology(beats_mv, axis_ms), np.full(len(rr_s), float(healthy))])


def morphology(beats_mv: np.ndarray, axis_ms: np.ndarray) -> np.ndarray:
    """Proxy factors of real beats (B, L) in mV with sample times `axis_ms` (0 = R peak): (B, 3) columns QRS
    duration (ms), ST level (mV) and T amplitude (mV), each against the isoelectric baseline.

    Simple fiducial rules, not a delineator: the baseline is the median of the PR segment (-100..-40 ms; the
    whole beat's median when the window starts at R); the QRS spans the samples within +-120 ms of R whose
    deviation exceeds 30% of R's; the ST level is the mean deviation 80..120 ms after R (J + 60 ms at a typical
    QRS); the T amplitude is the largest deviation, with its sign, 150..450 ms after R."""

    def between(lo, hi):
        return (axis_ms >= lo) & (axis_ms <= hi)

    pr = between(-100, -40)
    baseline = np.median(beats_mv[:, pr] if pr.any() else beats_mv, axis=1, keepdims=True)
    dev = beats_mv - baseline
    r_amp = np.abs(dev[:, np.argmin(np.abs(axis_ms))])[:, None]
    qrs = between(-120, 120)
    above = (np.abs(dev[:, qrs]) > 0.3 * r_amp) & (r_amp > 0)
    times = axis_ms[qrs]
    first = np.where(above.any(axis=1), times[np.argmax(above, axis=1)], np.nan)
    last = np.where(above.any(axis=1), times[len(times) - 1 - np.argmax(above[:, ::-1], axis=1)], np.nan)
    st = dev[:, between(80, 120)].mean(axis=1) if between(80, 120).any() else np.full(len(dev), np.nan)
    t_win = dev[:, between(150, 450)]
    t_amp = t_win[np.arange(len(dev)), np.argmax(np.abs(t_win), axis=1)] if t_win.size else np.full(len(dev), np.nan)
    return np.column_stack([last - first, st, t_amp])
