"""Synthetic multi-lead ECG records with known per-beat factors, written as WFDB files laid out like PTB: the
embedded disentanglement benchmark for heartbeats.

The beat model is a sum of Gaussian waves (P, Q, R, S, T) around each R peak, the waveform McSharry et al.
place on the limit cycle of ECGSYN ("A dynamical model for generating synthetic electrocardiogram signals",
IEEE TBME 2003, doi:10.1109/TBME.2003.808805), evaluated directly in time instead of integrating the ODE, plus
a sigmoid-edged ST segment shift. On top come white noise and sinusoidal baseline wander (per record nuisances,
removed or averaged out by the beat recipe; not factors).

The benchmark is factorial: every beat draws its five factors independently and uniformly over the ranges of
`FACTOR_RANGES` (heart rate, QRS width, P and T amplitude, ST shift), so that no factor predicts another and each
is identifiable: heart rate sets the RR interval from this beat to the next (which the `bounded` beat recipe
shows as where the beat ends) and, as in ECGSYN, the T wave's timing (Bazett: it scales with sqrt(RR)); the
other factors each shape one wave. Patients still differ by diagnosis: an MI patient's beats draw the ST shift
from an elevated range (`ST_MI_MV`), which keeps the MI probe meaningful while ST stays independent of the
other factors. The factors of every beat are saved in `beat_factors.csv` (record, R-peak sample, factors).

Layout written (as on PhysioNet): `RECORDS`, `CONTROLS`, `patientNNN/sNNNNsyn.{hea,dat}`, header comments with
age, sex and "Reason for admission" like PTB's; 1000 Hz, 16-bit, 2000 adu/mV, units mV.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.storage import atomic_dir
from pipelines.synthetic import is_current, write_manifest

log = logging.getLogger(__name__)

FACTOR_RANGES = {  # each beat's factors, drawn independently and uniformly
    "hr_bpm": (55.0, 100.0),  # the rate of the RR interval from this beat to the next
    "qrs_s": (0.07, 0.12),
    "p_mv": (0.05, 0.25),
    "t_mv": (0.15, 0.6),
    "st_mv": (-0.05, 0.15),  # healthy; MI patients draw from ST_MI_MV
}
ST_MI_MV = (0.1, 0.3)
FACTORS = tuple(FACTOR_RANGES)
WAVES = ("p", "q", "r", "s", "t", "st")
# Per-lead gain of each wave (p, q, r, s, t, st): lead I is a smaller copy of II; V2 has a small R, a deep S
# and a larger anterior ST shift. Leads not listed copy lead II.
LEAD_GAINS = {
    "i": (0.6, 0.6, 0.6, 0.6, 0.6, 0.6),
    "ii": (1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    "v2": (0.5, 0.2, 0.4, 3.0, 1.2, 1.5),
}
BEAT_SPAN_S = (-0.3, 0.7)  # support of one beat's waveform around its R peak


@dataclass(frozen=True)
class SyntheticEcgConfig:
    n_patients: int = 60
    duration_s: float = 240.0  # per record; one record per patient (60 x 240 s: ~18,000 beats)
    fs_hz: int = 1000  # PTB's sampling rate
    leads: tuple[str, ...] = ("i", "ii", "v2")
    mi_fraction: float = 0.5  # share of patients with myocardial infarction (ST elevation)
    seed: int = 0
    hr_bpm: tuple[float, float] = FACTOR_RANGES["hr_bpm"]  # the heart-rate range (e.g. shifted, to test drift)


def beat_waveform(t_s: np.ndarray, f: dict[str, np.ndarray], gains: tuple[float, ...]) -> np.ndarray:
    """Waveform in mV of beats with factors `f` (arrays of shape (B,)) at times `t_s` (B, T) relative to R."""
    g = dict(zip(WAVES, gains, strict=True))
    qrs = f["qrs_s"][:, None]
    rr = 60.0 / f["hr_bpm"][:, None]
    t_centre, t_sigma = 0.30 * np.sqrt(rr), 0.045 * np.sqrt(rr)  # Bazett: T timing scales with sqrt(RR)

    def gauss(centre, sigma, amp):
        return amp * np.exp(-0.5 * ((t_s - centre) / sigma) ** 2)

    def sigmoid(x):
        return 1.0 / (1.0 + np.exp(-x))

    wave = (
        gauss(-0.16, 0.022, g["p"] * f["p_mv"][:, None])
        + gauss(-0.35 * qrs, qrs / 10, -0.12 * g["q"])
        + gauss(0.0, qrs / 7, 1.1 * g["r"])
        + gauss(0.35 * qrs, qrs / 10, -0.25 * g["s"])
        + gauss(t_centre, t_sigma, g["t"] * f["t_mv"][:, None])
    )
    # the ST segment: from the J point (end of the QRS) to the T wave's onset, two T widths before its peak
    st_window = sigmoid((t_s - 0.6 * qrs) / 0.008) - sigmoid((t_s - (t_centre - 2 * t_sigma)) / 0.01)
    return wave + g["st"] * f["st_mv"][:, None] * st_window


def _draw_record(rng: np.random.Generator, cfg: SyntheticEcgConfig, mi: bool) -> tuple[np.ndarray, dict]:
    """R-peak samples (B,) and per-beat factors {name: (B,)} of one record, each beat's drawn independently."""
    ranges = {**FACTOR_RANGES, "hr_bpm": tuple(cfg.hr_bpm)}
    n_max = int(cfg.duration_s * ranges["hr_bpm"][1] / 60) + 2  # more beats than the highest rate can fit
    factors = {name: rng.uniform(*ranges[name], n_max) for name in FACTORS}
    if mi:
        factors["st_mv"] = rng.uniform(*ST_MI_MV, n_max)
    r_times = 0.5 + np.concatenate([[0.0], np.cumsum(60.0 / factors["hr_bpm"][:-1])])  # hr[i]: RR from beat i on
    n = int((r_times + BEAT_SPAN_S[1] < cfg.duration_s).sum())
    return np.round(r_times[:n] * cfg.fs_hz).astype(np.int64), {k: v[:n] for k, v in factors.items()}


def synthesize_record(
    rng: np.random.Generator, cfg: SyntheticEcgConfig, mi: bool
) -> tuple[np.ndarray, np.ndarray, dict]:
    """One record: signal (n_samples, n_leads) in mV, R-peak samples (B,), per-beat factors."""
    fs = cfg.fs_hz
    n_samples = int(cfg.duration_s * fs)
    r_samples, factors = _draw_record(rng, cfg, mi)
    noise_mv, wander_mv = rng.uniform(0.005, 0.02), rng.uniform(0.0, 0.05)  # per-record nuisances
    offsets = np.arange(int(BEAT_SPAN_S[0] * fs), int(BEAT_SPAN_S[1] * fs))  # (T,)
    t_s = np.broadcast_to(offsets / fs, (len(r_samples), len(offsets)))  # (B, T)
    idx = r_samples[:, None] + offsets[None, :]  # (B, T)
    inside = (idx >= 0) & (idx < n_samples)
    t = np.arange(n_samples) / fs
    wander = wander_mv * np.sin(2 * np.pi * rng.uniform(0.15, 0.35) * t + rng.uniform(0, 6.3))
    signal = np.empty((n_samples, len(cfg.leads)))
    for j, lead in enumerate(cfg.leads):
        beats = beat_waveform(t_s, factors, LEAD_GAINS.get(lead, LEAD_GAINS["ii"]))
        lead_sig = np.zeros(n_samples)
        np.add.at(lead_sig, idx[inside], beats[inside])
        signal[:, j] = lead_sig + wander + rng.normal(0, noise_mv, n_samples)
    return signal, r_samples, factors


def generate_ecg(out_dir: str | Path, cfg: SyntheticEcgConfig) -> Path:
    """Write the synthetic database to `out_dir` (replaced atomically); a no-op if it is current for `cfg`."""
    import wfdb

    out_dir = Path(out_dir)
    if is_current(out_dir, cfg, __file__):
        return out_dir
    rng = np.random.default_rng(cfg.seed)
    n_mi = int(round(cfg.mi_fraction * cfg.n_patients))
    is_mi = rng.permutation(np.arange(cfg.n_patients) < n_mi)
    records, controls, factor_rows = [], [], []
    with atomic_dir(out_dir) as tmp:
        for p in range(cfg.n_patients):
            patient, rec = f"patient{p + 1:03d}", f"s{p + 1:04d}syn"
            signal, r_samples, factors = synthesize_record(rng, cfg, bool(is_mi[p]))
            (tmp / patient).mkdir()
            diagnosis = "Myocardial infarction" if is_mi[p] else "Healthy control"
            wfdb.wrsamp(
                rec,
                fs=cfg.fs_hz,
                units=["mV"] * len(cfg.leads),
                sig_name=list(cfg.leads),
                p_signal=signal,
                fmt=["16"] * len(cfg.leads),
                adc_gain=[2000.0] * len(cfg.leads),
                baseline=[0] * len(cfg.leads),
                comments=[
                    f"age: {int(rng.integers(35, 80))}",
                    f"sex: {'male' if rng.random() < 0.6 else 'female'}",
                    "Diagnose:",
                    f"Reason for admission: {diagnosis}",
                    "Synthetic: sum-of-Gaussians beat model (pipelines.synthetic.ecg)",
                ],
                write_dir=str(tmp / patient),
            )
            name = f"{patient}/{rec}"
            records.append(name)
            if not is_mi[p]:
                controls.append(name)
            factor_rows.append(pd.DataFrame({"record": name, "r_sample": r_samples, **factors}))
        (tmp / "RECORDS").write_text("\n".join(records) + "\n")
        (tmp / "CONTROLS").write_text("\n".join(controls) + "\n")
        pd.concat(factor_rows).to_csv(tmp / "beat_factors.csv", index=False, float_format="%.6g")
        write_manifest(tmp, cfg, __file__)
    log.info("wrote %d synthetic ECG records (%d MI) to %s", len(records), n_mi, out_dir)
    return out_dir
