"""Heartbeat segmentation: condition each lead, find R peaks, resample, cut one window per R peak, filter.

Recipe (config `beats` in params.yaml):
1. band-pass `bandpass_hz` (default 0.5-40 Hz, zero-phase Butterworth; params.yaml uses 0.01 Hz, which keeps
   the ST level and T wave that 0.5 Hz distorts, and levels each beat with `baseline_s` instead): the low edge
   removes baseline drift, 40 Hz mains hum and muscle noise; units stay mV (a record sampled at no more than
   twice the upper edge, or shorter than 2 s, is rejected whole: it cannot be filtered or holds no beat to find);
2. R peaks at the record's own rate (pipelines.ecg.rpeaks) on the conditioned reference lead `rpeak_lead`
   (default II), used for every lead of the simultaneous recording (or on each lead when it is empty);
3. each beat read at `fs_hz` (default 125 Hz, the rate of the public PTB heartbeat set of Kachuee et al. 2018,
   "ECG Heartbeat Classification: A Deep Transferable Representation", arXiv 1805.00794) off the conditioned
   signal, at the exact times of its samples so that the R peak lies on a sample of every beat; with
   `baseline_s`, the mean of its first `baseline_s` (the TP segment, before the P wave) subtracted;
4. one beat per R peak, by `recipe`:
   - `centred` (default): from `pre_s` before to `post_s` after the R peak, in mV;
   - `bounded`: the same window, with the samples from the next beat's window start (next R - `pre_s`) on set
     to 0 mV: the beat alone, no part of its neighbour, and where it ends shows the RR interval to the next beat
     (the last beat of a record, whose next R is unknown, keeps its whole window);
   - `kachuee`: as the public PTB heartbeat set: each 10 s window min-max normalised to [0, 1], the beat taken
     from its R peak over `rr_factor` x the window's median RR, zero-padded to `kachuee_len` (187) samples;
   beats that would run past the record's ends are dropped;
5. quality filter on the mV beat (pipelines.ecg.quality): `clipped`, `flat`, `noisy` and `rr outlier` beats
   are quarantined with their reasons;
6. optional per-beat `normalize`: `none`, `minmax` ([0, 1]) or `zscore`;
7. with `rr_channel`, a second channel after the beat: the RR interval to the next beat in seconds, less
   `RR_REF_S`, as a flat line over the beat's samples (the last beat of a record takes its preceding RR). Heart
   rate otherwise shows only through the T wave's timing (Bazett) and where a `bounded` beat ends, which lies in
   the isoelectric TP segment: a flat stretch set to zero looks like itself, so a model reads the rate off the T
   wave and mixes it with T's amplitude (measured: the heart-rate latent follows T amplitude with |rho| 0.95
   below 64 bpm). Its own channel makes the rate identifiable apart from the morphology.

Each beat carries labels (record, patient, lead, diagnosis, healthy, RR interval, heart rate) and factors
(pipelines.ecg.factors): true ones for synthetic data (the beat whose R peak lies within `factor_tolerance_s`),
proxies for real data. Splits are by patient, stratified by diagnosis (pipelines.ecg.splits).

Records are read and checked, and the reference lead's R peaks found, in pipelines.ecg.leads; `cut_beats` (steps
1-4), the rows (6-7) and `record_beats`, the one beat cutter that the training set (`segment_beats`) and the
zero-shot transfer (pipelines.evaluation.transfer) share, follow here in order.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.dataset import TrainingSet
from pipelines.ecg.factors import FACTORS_FILE, match_factors, proxy_factors, read_true_factors, record_factors
from pipelines.ecg.leads import read_leads
from pipelines.ecg.quality import beat_quality
from pipelines.ecg.rpeaks import bandpass, detect_rpeaks
from pipelines.ecg.splits import patient_split
from pipelines.errors import ConfigError, DataValidationError, IngestError
from pipelines.quarantine import Reject

log = logging.getLogger(__name__)

RECIPES = ("centred", "bounded", "kachuee")
EDGE_REASONS = ("window starts before the record's start", "window runs past the record's end")
RR_REF_S = 0.8  # the RR channel's zero: 75 bpm, mid-range of resting rates
NORMALIZATIONS = ("none", "minmax", "zscore")


@dataclass(frozen=True)
class BeatConfig:
    leads: tuple[str, ...] = ("ii",)  # beats are cut from each of these leads
    rpeak_lead: str = "ii"  # R peaks found on this lead serve every lead (simultaneous); "" = each lead its own
    bandpass_hz: tuple[float, float] = (0.5, 40.0)  # baseline wander below, mains and EMG above
    fs_hz: float = 125.0  # resample rate, as in Kachuee et al. 2018
    recipe: str = "centred"  # one of RECIPES
    pre_s: float = 0.25  # centred, bounded: window start before the R peak
    post_s: float = 1.246  # centred, bounded: window end after the R peak (0.25 + 1.246 s = 187 samples at 125 Hz,
    # as the public PTB heartbeat set; with `centred` the next beat's QRS falls inside, so the heart rate shows)
    kachuee_len: int = 187  # kachuee: samples per beat after zero-padding
    rr_factor: float = 1.2  # kachuee: beat length = rr_factor x the 10 s window's median RR
    baseline_s: float = 0.0  # > 0: subtract from each beat the mean of its window's first baseline_s (the TP
    # segment before the P wave: its isoelectric level, which a 0.05 Hz high-pass leaves to drift with neighbours)
    normalize: str = "none"  # per-beat normalisation, one of NORMALIZATIONS
    rr_channel: bool = False  # a second channel: RR to the next beat - RR_REF_S, in s (module docstring, step 7)
    max_abs_mv: float = 8.0  # clipped: beats reaching beyond (electrode motion, ADC clipping)
    min_ptp_mv: float = 0.1  # flat: a beat with less peak-to-peak has no QRS
    max_noise_ratio: float = 0.2  # noisy: std(second difference) / peak-to-peak above this
    max_rr_deviation: float = 0.5  # rr outlier: |RR / record median RR - 1| above this
    val_fraction: float = 0.0  # share of patients for validation (per diagnosis, where counts allow)
    test_fraction: float = 0.25  # share of patients held out for evaluation
    factor_tolerance_s: float = 0.05  # synthetic data: match a detected R peak to a true beat within this
    seed: int = 0

    def __post_init__(self):
        if self.recipe not in RECIPES:
            raise ConfigError(f"beats.recipe: {self.recipe!r} is not one of {RECIPES}")
        if self.normalize not in NORMALIZATIONS:
            raise ConfigError(f"beats.normalize: {self.normalize!r} is not one of {NORMALIZATIONS}")
        if self.val_fraction < 0 or self.test_fraction < 0 or self.val_fraction + self.test_fraction >= 1:
            raise ConfigError("beats: val_fraction and test_fraction must be >= 0 and sum to less than 1")


def pre_r_samples(cfg: BeatConfig) -> int:
    """Samples of a beat before its R peak, at cfg.fs_hz: `pre_s` worth, or none for `kachuee` (starts at R)."""
    return 0 if cfg.recipe == "kachuee" else int(round(cfg.pre_s * cfg.fs_hz))


def beat_axis_ms(cfg: BeatConfig) -> np.ndarray:
    """Time of each beat sample relative to the R peak, in ms: (L,), L the beat's samples at cfg.fs_hz."""
    pre = pre_r_samples(cfg)
    n = cfg.kachuee_len if cfg.recipe == "kachuee" else pre + int(round(cfg.post_s * cfg.fs_hz))
    return (np.arange(n) - pre) / cfg.fs_hz * 1000.0


@dataclass
class LeadBeats:
    beats: np.ndarray  # (B, L) at cfg.fs_hz, by cfg.recipe (mV for `centred`)
    beats_mv: np.ndarray  # (B, L) the same windows in mV, for the quality filter
    r_peaks: np.ndarray  # (B,) R-peak samples at the record's rate
    rr_s: np.ndarray  # (B,) RR interval before each beat, from all detected peaks
    rr_next_s: np.ndarray  # (B,) RR interval to the next beat (the last beat of the record: its rr_s)
    dropped: np.ndarray  # R peaks whose window runs past either end of the record
    dropped_late: np.ndarray  # (per dropped peak) True: past the end, False: before the start (EDGE_REASONS)


def cut_beats(lead_mv: np.ndarray, fs_hz: float, cfg: BeatConfig, r_peaks: np.ndarray | None = None) -> LeadBeats:
    """One lead's beats at cfg.fs_hz. R peaks are detected on this lead unless given (from the reference lead of
    the same recording)."""
    from scipy.signal import resample_poly  # here: the stages that only read BeatConfig start faster

    conditioned = bandpass(lead_mv, fs_hz, *cfg.bandpass_hz)
    if r_peaks is None:
        r_peaks = detect_rpeaks(conditioned, fs_hz)
    ratio = Fraction(cfg.fs_hz / fs_hz).limit_denominator(1000)
    rr_all = _rr_s(r_peaks, fs_hz)  # before dropping edge beats, so each beat keeps its true preceding RR
    length, pre = len(beat_axis_ms(cfg)), pre_r_samples(cfg)
    # each beat read off the conditioned signal at the exact times of its output samples (the band-pass keeps it
    # below the output's Nyquist rate), so the R peak falls on sample `pre` of every beat instead of up to half an
    # output sample away: at 125 Hz that jitter (up to 4 ms) reshapes a QRS complex from beat to beat
    at = r_peaks[:, None] + (np.arange(length)[None, :] - pre) / float(ratio)  # (B, L) native sample positions
    inside = (at[:, 0] >= 0) & (at[:, -1] <= len(conditioned) - 1) if len(at) else np.zeros(0, dtype=bool)
    rr_next = np.append(np.diff(r_peaks) * float(ratio), length)[inside]  # output samples to the next R
    rr_next_s = np.append(np.diff(r_peaks) / fs_hz, rr_all[-1:])[inside]
    dropped, dropped_late = r_peaks[~inside], at[~inside, 0] >= 0  # a window that starts inside ends past the end
    r_peaks, rr_s = r_peaks[inside], rr_all[inside]
    beats_mv = np.interp(at[inside], np.arange(len(conditioned)), conditioned)
    if cfg.baseline_s > 0 and len(beats_mv):
        beats_mv = beats_mv - beats_mv[:, : max(1, int(round(cfg.baseline_s * cfg.fs_hz)))].mean(axis=1, keepdims=True)
    if cfg.recipe == "centred":
        return LeadBeats(beats_mv, beats_mv, r_peaks, rr_s, rr_next_s, dropped, dropped_late)
    if cfg.recipe == "bounded":  # sample j lies at R - pre + j: the next beat's window starts at j = its RR
        beats = np.where(np.arange(length)[None, :] < rr_next[:, None], beats_mv, 0.0)
        return LeadBeats(beats, beats_mv, r_peaks, rr_s, rr_next_s, dropped, dropped_late)
    # kachuee: normalise each 10 s window to [0, 1], keep rr_factor x the window's median RR, zero-pad
    resampled = resample_poly(conditioned, ratio.numerator, ratio.denominator)  # for the windows' min and max
    window = int(10 * cfg.fs_hz)
    win = np.round(r_peaks * float(ratio)).astype(np.int64) // window
    n_win = len(resampled) // window + 1
    padded = np.pad(resampled, (0, n_win * window - len(resampled)), mode="edge").reshape(n_win, window)
    lo, hi = padded.min(axis=1), padded.max(axis=1)
    rr = rr_s * cfg.fs_hz  # in samples at cfg.fs_hz
    med_rr = pd.Series(rr).groupby(win).transform("median").fillna(length).to_numpy()
    keep = np.round(cfg.rr_factor * med_rr).astype(np.int64)  # (B,) samples kept per beat
    scale = np.where(hi[win] > lo[win], hi[win] - lo[win], 1.0)
    # a beat may run into the next 10 s window; it keeps its own window's scale, clipped to [0, 1]
    beats = np.clip((beats_mv - lo[win][:, None]) / scale[:, None], 0.0, 1.0)
    beats[np.arange(length)[None, :] >= keep[:, None]] = 0.0
    return LeadBeats(beats, beats_mv, r_peaks, rr_s, rr_next_s, dropped, dropped_late)


def normalize_beats(beats: np.ndarray, how: str) -> np.ndarray:
    if how == "minmax":
        lo, hi = beats.min(axis=1, keepdims=True), beats.max(axis=1, keepdims=True)
        return (beats - lo) / np.where(hi > lo, hi - lo, 1.0)
    if how == "zscore":
        std = beats.std(axis=1, keepdims=True)
        return (beats - beats.mean(axis=1, keepdims=True)) / np.where(std > 0, std, 1.0)
    return beats


def beat_rows(cut: LeadBeats, cfg: BeatConfig) -> np.ndarray:
    """The samples of a lead's beats as the model sees them: normalised beats, then the RR channel if asked."""
    beats = normalize_beats(cut.beats, cfg.normalize)
    if not cfg.rr_channel:
        return beats
    return np.hstack([beats, np.repeat((cut.rr_next_s - RR_REF_S)[:, None], beats.shape[1], axis=1)])


def _rr_s(r_peaks: np.ndarray, fs_hz: float) -> np.ndarray:
    """RR interval before each beat (the first beat takes the interval after it), in seconds."""
    if len(r_peaks) < 2:
        return np.full(len(r_peaks), np.nan)
    rr = np.diff(r_peaks) / fs_hz
    return np.concatenate([[rr[0]], rr])


def _value_label(cfg: BeatConfig) -> str:
    if cfg.normalize != "none":
        return f"amplitude ({cfg.normalize} per beat)"
    return "amplitude (10 s window scaled to [0, 1])" if cfg.recipe == "kachuee" else "mV"


@dataclass
class LeadCut:
    """One lead's beats of one record, as the beat cutter leaves them."""

    lead: str  # lead name, lower-case
    cut: LeadBeats
    reasons: np.ndarray  # (B,) why each beat fails the quality filter, '' when it passes (pipelines.ecg.quality)
    edge_rejects: list[Reject]  # R peaks whose window runs past either end of the record (routine)


def record_beats(source: Path, record: str, fs_hz: float, cfg: BeatConfig) -> list[LeadCut]:
    """The beat cutter: each lead of `cfg.leads` of WFDB `record` (sampled at `fs_hz`, as its header says) in
    `source`, cut at the R peaks of `cfg.rpeak_lead` (or each lead's own) by `cfg.recipe` and run through the
    quality filter. Raises IngestError naming the record when it cannot be segmented (pipelines.ecg.leads)."""
    signal, leads, reference = read_leads(source, record, fs_hz, cfg)
    out = []
    for j, lead in enumerate(leads):
        cut = cut_beats(signal[:, j], fs_hz, cfg, reference)
        edges = zip(cut.dropped, cut.dropped_late, strict=True)
        edge_rejects = [Reject(f"{record}:{lead}@{r}", EDGE_REASONS[int(late)], routine=True) for r, late in edges]
        out.append(LeadCut(lead, cut, beat_quality(cut.beats_mv, cut.rr_s, cfg), edge_rejects))
    return out


def _lead_part(lead: LeadCut, rec, truth: pd.DataFrame | None, names: list[str],
               cfg: BeatConfig) -> tuple[tuple | None, list[Reject]]:  # fmt: skip
    """(rows, factors, labels) of the beats of one lead of records-table row `rec` that pass, or None when none
    does, and a reject per beat set aside: by the quality filter or, with the record's true factors `truth`, as
    an R peak that matches no true beat (a false detection). Factors: the matched true beat's, or proxies."""
    cut, reasons = lead.cut, lead.reasons.copy()
    if truth is None:
        factors = proxy_factors(cut.beats_mv, cut.rr_s, beat_axis_ms(cfg), rec.healthy)
    else:
        nearest, matched = match_factors(truth, cut.r_peaks, int(cfg.factor_tolerance_s * rec.fs_hz))
        reasons[(reasons == "") & ~matched] = "no true beat within tolerance (false detection)"
        factors = truth[names].to_numpy(dtype=np.float64)[nearest]
    ok, item, rr = reasons == "", f"{rec.record}:{lead.lead}", cut.rr_s
    rejects = [Reject(f"{item}@{r}", why) for r, why in zip(cut.r_peaks[~ok], reasons[~ok], strict=True)]
    if not ok.any():
        return None, [*rejects, Reject(item, "no usable beats")]
    labels = pd.DataFrame({
        "record": rec.record, "patient": rec.patient, "lead": lead.lead, "diagnosis": rec.diagnosis,
        "healthy": bool(rec.healthy), "r_sample": cut.r_peaks[ok], "rr_s": rr[ok], "hr_bpm": 60.0 / rr[ok],
    })  # fmt: skip
    return (beat_rows(cut, cfg)[ok], factors[ok], labels), rejects


def training_set_of(parts: list, names: list[str], factor_kind: str, cfg: BeatConfig,
                    value_label: str = "") -> TrainingSet:  # fmt: skip
    """The beats of every lead and record (`parts`: (rows, factors, labels) per lead of a record) as one training
    set, split by patient; `value_label` replaces the recipe's unit (mV) for sources whose gain is not mV."""
    labels = pd.concat([p[2] for p in parts], ignore_index=True)
    value_label = value_label if value_label and cfg.normalize == "none" else _value_label(cfg)
    return TrainingSet(
        x=np.concatenate([p[0] for p in parts]).astype(np.float32), axis=beat_axis_ms(cfg),
        axis_label="time from R peak (ms)", value_label=value_label,
        factors=np.concatenate([p[1] for p in parts]), factor_names=list(names), factor_kind=factor_kind,
        split=patient_split(labels.patient.to_numpy(), labels.diagnosis.to_numpy(), cfg.val_fraction,
                            cfg.test_fraction, cfg.seed),
        labels=labels, channels=[value_label, f"RR to the next beat - {RR_REF_S:g} s"] if cfg.rr_channel else [],
    )  # fmt: skip


def segment_beats(records: pd.DataFrame, source: str | Path, cfg: BeatConfig) -> tuple[TrainingSet, list[Reject]]:
    """Beats of every record in `records` (the validated records table) read from WFDB `source`.

    Raises DataValidationError when no beat at all could be cut; per-record problems become rejects.
    """
    source = Path(source)
    true_factors, names = read_true_factors(source)
    parts, rejects = [], []
    t0 = time.perf_counter()
    for i, rec in enumerate(records.itertuples(index=False)):
        try:
            leads = record_beats(source, rec.record, rec.fs_hz, cfg)
        except IngestError as e:
            rejects.append(Reject(rec.record, str(e)))
            continue
        truth = record_factors(true_factors, rec.record)
        for lead in leads:
            rejects += lead.edge_rejects
            if truth is not None and truth.empty:
                rejects.append(Reject(rec.record, f"no true factors for this record in {FACTORS_FILE}"))
                break
            part, set_aside = _lead_part(lead, rec, truth, names, cfg)
            rejects += set_aside
            if part is not None:
                parts.append(part)
        if (i + 1) % 25 == 0 or i + 1 == len(records):
            rate = (i + 1) / max(time.perf_counter() - t0, 1e-9)
            log.info("segmented %d/%d records (%.1f records/s, ETA %.0f s), %d beats so far", i + 1, len(records),
                     rate, (len(records) - i - 1) / rate, sum(len(p[0]) for p in parts))  # fmt: skip
    if not parts:
        raise DataValidationError(f"{source}: no heartbeats could be cut from {len(records)} record(s)")
    beats = training_set_of(parts, names, "generative" if true_factors is not None else "proxy", cfg)
    log.info("cut %d beats from %d records (%d quarantine entries)", len(beats), len(records), len(rejects))
    return beats, rejects
