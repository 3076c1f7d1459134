"""Heartbeat segmentation: condition each lead, find R peaks, resample, cut a fixed window around each R peak.

Recipe (config `beats` in params.yaml):
1. band-pass `bandpass_hz` (default 0.5-40 Hz, zero-phase Butterworth): 0.5 Hz removes baseline wander,
   40 Hz removes mains hum and muscle noise; units stay mV;
2. R peaks on the conditioned lead at the record's own rate (pipelines.ecg.rpeaks);
3. polyphase resampling to `fs_hz` (default 125 Hz, the rate of the public PTB heartbeat set of Kachuee et al.
   2018, arXiv 1805.00794);
4. a window from `pre_s` before to `post_s` after each R peak; beats cut off by the record's ends are dropped,
   beats whose |amplitude| exceeds `max_abs_mv` are quarantined as artefacts.

Each beat carries labels (record, patient, lead, diagnosis, healthy, RR interval, heart rate). Factors: for the
synthetic data, the true factors of the beat whose R peak lies within `factor_tolerance_s` (from
`beat_factors.csv`); for real data, proxy factors (heart rate and the healthy flag). Splits are by patient: no
patient appears in two splits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import resample_poly

from pipelines.dataset import TrainingSet
from pipelines.ecg.records import read_signal
from pipelines.ecg.rpeaks import bandpass, detect_rpeaks
from pipelines.errors import DataValidationError, IngestError
from pipelines.quarantine import Reject

log = logging.getLogger(__name__)

FACTORS_FILE = "beat_factors.csv"  # written by pipelines.synthetic.ecg beside synthetic records
PROXY_FACTORS = ["hr_bpm", "healthy"]


@dataclass(frozen=True)
class BeatConfig:
    leads: tuple[str, ...] = ("ii",)  # beats are cut from each of these leads
    bandpass_hz: tuple[float, float] = (0.5, 40.0)  # baseline wander below, mains and EMG above
    fs_hz: float = 125.0  # resample rate, as in Kachuee et al. 2018
    pre_s: float = 0.25  # window start before the R peak
    post_s: float = 0.55  # window end after the R peak
    max_abs_mv: float = 8.0  # beats reaching beyond are artefacts (electrode motion, clipping)
    test_fraction: float = 0.25  # share of patients held out for evaluation
    factor_tolerance_s: float = 0.05  # synthetic data: match a detected R peak to a true beat within this
    seed: int = 0


def beat_axis_ms(cfg: BeatConfig) -> np.ndarray:
    """Time of each beat sample relative to the R peak, in ms."""
    pre = int(round(cfg.pre_s * cfg.fs_hz))
    n = pre + int(round(cfg.post_s * cfg.fs_hz))
    return (np.arange(n) - pre) / cfg.fs_hz * 1000.0


def cut_beats(lead_mv: np.ndarray, fs_hz: float, cfg: BeatConfig) -> tuple[np.ndarray, np.ndarray]:
    """Beats (B, L) in mV at cfg.fs_hz and their R-peak sample indices (B,) at `fs_hz` for one lead."""
    conditioned = bandpass(lead_mv, fs_hz, *cfg.bandpass_hz)
    r_peaks = detect_rpeaks(conditioned, fs_hz)
    ratio = Fraction(cfg.fs_hz / fs_hz).limit_denominator(1000)
    resampled = resample_poly(conditioned, ratio.numerator, ratio.denominator)
    pre = int(round(cfg.pre_s * cfg.fs_hz))
    length = len(beat_axis_ms(cfg))
    starts = np.round(r_peaks * float(ratio)).astype(np.int64) - pre
    inside = (starts >= 0) & (starts + length <= len(resampled))
    starts, r_peaks = starts[inside], r_peaks[inside]
    beats = resampled[starts[:, None] + np.arange(length)[None, :]]  # (B, L)
    return beats, r_peaks


def _rr_s(r_peaks: np.ndarray, fs_hz: float) -> np.ndarray:
    """RR interval before each beat (the first beat takes the interval after it), in seconds."""
    if len(r_peaks) < 2:
        return np.full(len(r_peaks), np.nan)
    rr = np.diff(r_peaks) / fs_hz
    return np.concatenate([[rr[0]], rr])


def _match_factors(true: pd.DataFrame, r_peaks: np.ndarray, tol: int) -> tuple[np.ndarray, np.ndarray]:
    """Row index into `true` (sorted by r_sample) of the beat nearest each detected peak, and whether it is
    within `tol` samples."""
    ref = true["r_sample"].to_numpy()
    pos = np.clip(np.searchsorted(ref, r_peaks), 1, max(len(ref) - 1, 1))
    left, right = ref[pos - 1], ref[np.minimum(pos, len(ref) - 1)]
    nearest = np.where(np.abs(r_peaks - left) <= np.abs(r_peaks - right), pos - 1, np.minimum(pos, len(ref) - 1))
    return nearest, np.abs(ref[nearest] - r_peaks) <= tol


def patient_split(patients: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """'train'/'test' per row such that each patient's rows share one split; ~test_fraction of patients test."""
    unique = np.array(sorted(set(patients)))
    if len(unique) < 2 or test_fraction <= 0:
        return np.full(len(patients), "train")
    n_test = min(max(1, int(round(test_fraction * len(unique)))), len(unique) - 1)
    test = np.random.default_rng(seed).permutation(unique)[:n_test]
    return np.where(np.isin(patients, test), "test", "train")


def segment_beats(records: pd.DataFrame, source: str | Path, cfg: BeatConfig) -> tuple[TrainingSet, list[Reject]]:
    """Beats of every record in `records` (the validated records table) read from WFDB `source`.

    Raises DataValidationError when no beat at all could be cut; per-record problems become rejects.
    """
    source = Path(source)
    true_factors = None
    if (source / FACTORS_FILE).is_file():
        true_factors = pd.read_csv(source / FACTORS_FILE)
    factor_names = (
        [c for c in true_factors.columns if c not in ("record", "r_sample")]
        if true_factors is not None
        else PROXY_FACTORS
    )
    parts, rejects = [], []
    for i, rec in enumerate(records.itertuples(index=False)):
        try:
            signal, leads = read_signal(source, rec.record, list(cfg.leads))
        except IngestError as e:
            rejects.append(Reject(rec.record, str(e)))
            continue
        for j, lead in enumerate(leads):
            beats, r_peaks = cut_beats(signal[:, j], rec.fs_hz, cfg)
            rr = _rr_s(r_peaks, rec.fs_hz)
            ok = np.all(np.isfinite(beats), axis=1) & (np.abs(beats).max(axis=1, initial=0) <= cfg.max_abs_mv)
            if (~ok).any():
                rejects.append(
                    Reject(
                        f"{rec.record}:{lead}",
                        f"{(~ok).sum()} beat(s) non-finite or beyond ±{cfg.max_abs_mv} mV",
                    )
                )
            if true_factors is not None:
                truth = true_factors[true_factors.record == rec.record].sort_values("r_sample")
                nearest, matched = _match_factors(truth, r_peaks, int(cfg.factor_tolerance_s * rec.fs_hz))
                if (ok & ~matched).any():
                    rejects.append(
                        Reject(
                            f"{rec.record}:{lead}",
                            f"{(ok & ~matched).sum()} detected beat(s) "
                            "with no true beat within tolerance (false detections)",
                        )
                    )
                ok &= matched
                factors = truth[factor_names].to_numpy(dtype=np.float64)[nearest]
            else:
                factors = np.column_stack([60.0 / rr, np.full(len(rr), float(rec.healthy))])
            n = int(ok.sum())
            if n == 0:
                rejects.append(Reject(f"{rec.record}:{lead}", "no usable beats"))
                continue
            parts.append((beats[ok], factors[ok], pd.DataFrame({
                "record": rec.record, "patient": rec.patient, "lead": lead, "diagnosis": rec.diagnosis,
                "healthy": bool(rec.healthy), "r_sample": r_peaks[ok], "rr_s": rr[ok], "hr_bpm": 60.0 / rr[ok],
            })))  # fmt: skip
        if (i + 1) % 25 == 0 or i + 1 == len(records):
            log.info("segmented %d/%d records, %d beats so far", i + 1, len(records), sum(len(p[0]) for p in parts))
    if not parts:
        raise DataValidationError(f"{source}: no heartbeats could be cut from {len(records)} record(s)")
    labels = pd.concat([p[2] for p in parts], ignore_index=True)
    beats = TrainingSet(
        x=np.concatenate([p[0] for p in parts]).astype(np.float32), axis=beat_axis_ms(cfg),
        axis_label="time from R peak (ms)", value_label="mV",
        factors=np.concatenate([p[1] for p in parts]), factor_names=list(factor_names),
        factor_kind="generative" if true_factors is not None else "proxy",
        split=patient_split(labels.patient.to_numpy(), cfg.test_fraction, cfg.seed), labels=labels,
    )  # fmt: skip
    log.info("cut %d beats from %d records (%d quarantine entries)", len(beats), len(records), len(rejects))
    return beats, rejects
