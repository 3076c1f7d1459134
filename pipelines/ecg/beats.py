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
5. quality filter on the mV beat, each rejected beat quarantined with its reason: `clipped` (|x| beyond
   `max_abs_mv` or non-finite), `flat` (peak-to-peak below `min_ptp_mv`), `noisy` (std of the second difference
   over peak-to-peak above `max_noise_ratio`; clean beats stay below 0.1 on PTB and the synthetic data), `rr
   outlier` (RR differs from the record's median RR by more than `max_rr_deviation`, relative);
6. optional per-beat `normalize`: `none`, `minmax` ([0, 1]) or `zscore`;
7. with `rr_channel`, a second channel after the beat: the RR interval to the next beat in seconds, less
   `RR_REF_S`, as a flat line over the beat's samples (the last beat of a record takes its preceding RR). Heart
   rate otherwise shows only through the T wave's timing (Bazett) and where a `bounded` beat ends, which lies in
   the isoelectric TP segment: a flat stretch set to zero looks like itself, so a model reads the rate off the T
   wave and mixes it with T's amplitude (measured: the heart-rate latent follows T amplitude with |rho| 0.95
   below 64 bpm). Its own channel makes the rate identifiable apart from the morphology.

Each beat carries labels (record, patient, lead, diagnosis, healthy, RR interval, heart rate). Factors: for the
synthetic data, the true factors of the beat whose R peak lies within `factor_tolerance_s` (from
`beat_factors.csv`); for real data, proxy factors (heart rate and the healthy flag). Splits are by patient,
stratified by diagnosis: no patient appears in two splits.

One module (~340 lines) for the whole recipe, whose functions follow the steps above in order, so that the
recipe can be read and checked against its sources in one place.
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
from pipelines.ecg.records import read_signal
from pipelines.ecg.rpeaks import bandpass, detect_rpeaks
from pipelines.errors import ConfigError, DataValidationError, IngestError
from pipelines.quarantine import Reject

log = logging.getLogger(__name__)

FACTORS_FILE = "beat_factors.csv"  # written by pipelines.synthetic.ecg beside synthetic records
PROXY_FACTORS = ["hr_bpm", "qrs_ms", "st_mv", "t_mv", "healthy"]


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


def beat_axis_ms(cfg: BeatConfig) -> np.ndarray:
    """Time of each beat sample relative to the R peak, in ms."""
    if cfg.recipe == "kachuee":
        return np.arange(cfg.kachuee_len) / cfg.fs_hz * 1000.0
    pre = int(round(cfg.pre_s * cfg.fs_hz))
    n = pre + int(round(cfg.post_s * cfg.fs_hz))
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
    length = len(beat_axis_ms(cfg))
    pre = 0 if cfg.recipe == "kachuee" else int(round(cfg.pre_s * cfg.fs_hz))
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


def beat_quality(beats_mv: np.ndarray, rr_s: np.ndarray, cfg: BeatConfig) -> np.ndarray:
    """Per beat (B,) the reasons it fails the quality filter, joined by '; ' ('' when it passes)."""
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


def _match_factors(true: pd.DataFrame, r_peaks: np.ndarray, tol: int) -> tuple[np.ndarray, np.ndarray]:
    """Row index into `true` (sorted by r_sample) of the beat nearest each detected peak, and whether it is
    within `tol` samples."""
    ref = true["r_sample"].to_numpy()
    pos = np.clip(np.searchsorted(ref, r_peaks), 1, max(len(ref) - 1, 1))
    left, right = ref[pos - 1], ref[np.minimum(pos, len(ref) - 1)]
    nearest = np.where(np.abs(r_peaks - left) <= np.abs(r_peaks - right), pos - 1, np.minimum(pos, len(ref) - 1))
    return nearest, np.abs(ref[nearest] - r_peaks) <= tol


def patient_split(
    patients: np.ndarray, diagnoses: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> np.ndarray:
    """'train'/'val'/'test' per row; every patient's rows share one split. Patients are drawn per diagnosis
    (stratified) where a diagnosis has enough patients to give each split at least one; the rest train. At least
    one patient is tested whenever there are two or more."""
    table = pd.DataFrame({"patient": patients, "diagnosis": diagnoses}).drop_duplicates("patient")
    rng = np.random.default_rng(seed)
    assigned: dict[str, str] = {}
    for _, group in sorted(table.groupby("diagnosis"), key=lambda g: str(g[0])):
        ids = rng.permutation(sorted(group.patient))
        n_test, n_val = int(round(test_fraction * len(ids))), int(round(val_fraction * len(ids)))
        if n_test + n_val >= len(ids):  # too few patients with this diagnosis to stratify
            n_test = n_val = 0
        assigned |= {p: "test" for p in ids[:n_test]} | {p: "val" for p in ids[n_test : n_test + n_val]}
    everyone = sorted(table.patient)
    if test_fraction > 0 and len(everyone) > 1 and "test" not in assigned.values():
        untested = [p for p in rng.permutation(everyone) if p not in assigned]
        assigned[untested[0]] = "test"
    return np.array([assigned.get(p, "train") for p in patients])


MIN_RECORD_S = 2.0  # R-peak detection looks at 2-second maxima; a shorter record has no beat to find


def check_length_and_rate(record: str, n_samples: int, fs_hz: float, cfg: BeatConfig) -> None:
    """Raise IngestError naming the record when it is sampled too slowly for the band-pass (the filter needs its
    upper edge below fs/2) or too short to filter and segment (MIN_RECORD_S)."""
    low, high = cfg.bandpass_hz
    if not fs_hz > 2 * high:
        raise IngestError(f"{record}: sampled at {fs_hz:g} Hz, too slowly for the {low:g}-{high:g} Hz band-pass "
                          f"(needs more than {2 * high:g} Hz)")  # fmt: skip
    if n_samples < MIN_RECORD_S * fs_hz:
        raise IngestError(f"{record}: {n_samples} samples ({n_samples / fs_hz:.2f} s), shorter than the "
                          f"{MIN_RECORD_S:g} s needed to find beats")  # fmt: skip


def _read_leads(source: Path, record: str, fs_hz: float, cfg: BeatConfig):
    """The record's beat leads (n_samples, n_leads), their names, and the R peaks of the reference lead (None:
    detect on each lead), in one read. Small-QRS leads (aVL, III) have T waves as tall as their R waves;
    detecting once on a lead with a clear QRS keeps all leads' beats aligned."""
    wanted = [lead.lower() for lead in cfg.leads]
    ref = cfg.rpeak_lead.lower()
    signal, names = read_signal(source, record, wanted + ([ref] if ref and ref not in wanted else []))
    check_length_and_rate(record, len(signal), fs_hz, cfg)
    if not ref:
        return signal, names, None
    peaks = detect_rpeaks(bandpass(signal[:, names.index(ref)], fs_hz, *cfg.bandpass_hz), fs_hz)
    return signal[:, : len(wanted)], names[: len(wanted)], peaks


def _value_label(cfg: BeatConfig) -> str:
    if cfg.normalize != "none":
        return f"amplitude ({cfg.normalize} per beat)"
    return "amplitude (10 s window scaled to [0, 1])" if cfg.recipe == "kachuee" else "mV"


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
    t0 = time.perf_counter()
    for i, rec in enumerate(records.itertuples(index=False)):
        try:
            signal, leads, reference = _read_leads(source, rec.record, rec.fs_hz, cfg)
        except IngestError as e:
            rejects.append(Reject(rec.record, str(e)))
            continue
        for j, lead in enumerate(leads):
            cut = cut_beats(signal[:, j], rec.fs_hz, cfg, reference)
            r_peaks, rr = cut.r_peaks, cut.rr_s
            rejects += [
                Reject(f"{rec.record}:{lead}@{r}", EDGE_REASONS[int(late)], routine=True)
                for r, late in zip(cut.dropped, cut.dropped_late, strict=True)
            ]
            reasons = beat_quality(cut.beats_mv, rr, cfg)
            if true_factors is not None:
                truth = true_factors[true_factors.record == rec.record].sort_values("r_sample")
                if truth.empty:
                    rejects.append(Reject(rec.record, f"no true factors for this record in {FACTORS_FILE}"))
                    break
                nearest, matched = _match_factors(truth, r_peaks, int(cfg.factor_tolerance_s * rec.fs_hz))
                reasons[(reasons == "") & ~matched] = "no true beat within tolerance (false detection)"
                factors = truth[factor_names].to_numpy(dtype=np.float64)[nearest]
            else:
                pre = 0 if cfg.recipe == "kachuee" else int(round(cfg.pre_s * cfg.fs_hz))
                axis_ms = (np.arange(cut.beats_mv.shape[1]) - pre) / cfg.fs_hz * 1000.0
                shape = morphology(cut.beats_mv, axis_ms)
                factors = np.column_stack([60.0 / rr, shape, np.full(len(rr), float(rec.healthy))])
            ok = reasons == ""
            rejects += [
                Reject(f"{rec.record}:{lead}@{r}", why) for r, why in zip(r_peaks[~ok], reasons[~ok], strict=True)
            ]
            if not ok.any():
                rejects.append(Reject(f"{rec.record}:{lead}", "no usable beats"))
                continue
            parts.append((beat_rows(cut, cfg)[ok], factors[ok], pd.DataFrame({
                "record": rec.record, "patient": rec.patient, "lead": lead, "diagnosis": rec.diagnosis,
                "healthy": bool(rec.healthy), "r_sample": r_peaks[ok], "rr_s": rr[ok], "hr_bpm": 60.0 / rr[ok],
            })))  # fmt: skip
        if (i + 1) % 25 == 0 or i + 1 == len(records):
            rate = (i + 1) / max(time.perf_counter() - t0, 1e-9)
            log.info("segmented %d/%d records (%.1f records/s, ETA %.0f s), %d beats so far", i + 1, len(records),
                     rate, (len(records) - i - 1) / rate, sum(len(p[0]) for p in parts))  # fmt: skip
    if not parts:
        raise DataValidationError(f"{source}: no heartbeats could be cut from {len(records)} record(s)")
    labels = pd.concat([p[2] for p in parts], ignore_index=True)
    beats = TrainingSet(
        x=np.concatenate([p[0] for p in parts]).astype(np.float32), axis=beat_axis_ms(cfg),
        axis_label="time from R peak (ms)", value_label=_value_label(cfg),
        factors=np.concatenate([p[1] for p in parts]), factor_names=list(factor_names),
        factor_kind="generative" if true_factors is not None else "proxy",
        split=patient_split(labels.patient.to_numpy(), labels.diagnosis.to_numpy(), cfg.val_fraction,
                            cfg.test_fraction, cfg.seed),
        labels=labels, channels=[_value_label(cfg), f"RR to the next beat - {RR_REF_S:g} s"] if cfg.rr_channel else [],
    )  # fmt: skip
    log.info("cut %d beats from %d records (%d quarantine entries)", len(beats), len(records), len(rejects))
    return beats, rejects
