"""Zero-shot reuse: a champion model applied to data it was never trained on (the ECG champion to MIT-BIH beats,
the BTC champion to another period's windows), with how far its reconstruction and its latents move.

The shift of each latent is the difference of its posterior-mean average between the target and the source test
split in units of the source's standard deviation (a standardised mean difference); active latents whose codes
move by more than one source std are what a user would look at first.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from pipelines.dataset import TrainingSet
from pipelines.ecg.beats import BeatConfig, beat_rows, record_beats
from pipelines.ecg.records import ingest_records
from pipelines.errors import IngestError
from pipelines.evaluation.summary import encode, mean_kl_per_latent, reconstruct
from pipelines.exchange.bars import ingest_bars
from pipelines.exchange.windows import WindowConfig, make_windows
from pipelines.vae.model import BetaVAE

log = logging.getLogger(__name__)


def wfdb_beats(source: str | Path, cfg: BeatConfig, lead: str = "mlii") -> tuple[np.ndarray, list[str]]:
    """Quality-passing beats of `lead` from every record listed in `source`/RECORDS (or every .hea below it), cut
    by the project's recipe as the model's rows (N, L; with the RR channel, N, 2L); returns them and the records
    used. Records are listed and read as the training set's are (pipelines.ecg.records.ingest_records, then the
    one beat cutter, pipelines.ecg.beats.record_beats), with R peaks found on `lead` itself; unreadable records,
    or records without the lead, are skipped with their reason logged."""
    records, rejects = ingest_records(source)
    for reject in rejects:
        log.warning("transfer: %s left out: %s", reject.item, reject.reason)
    one_lead = replace(cfg, leads=(lead,), rpeak_lead="")
    parts, used = [], []
    for rec in records.itertuples(index=False):
        try:
            (cut,) = record_beats(Path(source), rec.record, rec.fs_hz, one_lead)
        except IngestError as e:  # a record without the lead, or unreadable, is left out with its reason
            log.warning("transfer: %s left out: %s", rec.record, e)
            continue
        ok = cut.reasons == ""
        if ok.any():
            parts.append(beat_rows(cut.cut, one_lead)[ok])
            used.append(rec.record)
    if not parts:
        return np.empty((0, 0), np.float32), used
    return np.concatenate(parts).astype(np.float32), used


def bar_windows(source: str | Path, cfg: WindowConfig) -> np.ndarray:
    """Windows (N, L) cut from the bar files in `source` by the project's recipe."""
    bars, _ = ingest_bars(source)
    return make_windows(bars, cfg).x if len(bars) else np.empty((0, 0), np.float32)


def shift_report(model: BetaVAE, source: TrainingSet, target_x: np.ndarray, active_kl_nats: float = 0.01) -> dict:
    """Reconstruction RMSE and latent statistics on the source test split and on `target_x`, and their shift."""
    out = {"n_source": len(source), "n_target": len(target_x)}
    if not len(target_x):
        return out
    mu_s, logvar_s = encode(model, source.x)
    mu_t, logvar_t = encode(model, target_x)
    kl_s, kl_t = mean_kl_per_latent(mu_s, logvar_s), mean_kl_per_latent(mu_t, logvar_t)
    std = np.where(mu_s.std(axis=0) > 0, mu_s.std(axis=0), np.nan)
    shift = (mu_t.mean(axis=0) - mu_s.mean(axis=0)) / std
    active = kl_s > active_kl_nats
    rmse = lambda x: float(np.sqrt(np.mean((reconstruct(model, x) - x) ** 2)))  # noqa: E731
    return out | {
        "recon_rmse_source": rmse(source.x),
        "recon_rmse_target": rmse(target_x),
        "kl_total_source": float(kl_s.sum()),
        "kl_total_target": float(kl_t.sum()),
        "latent_shift_sd": [float(v) for v in shift],
        "mean_abs_shift_active": float(np.nanmean(np.abs(shift[active]))) if active.any() else float("nan"),
        "std_ratio": [float(v) for v in mu_t.std(axis=0) / std],
    }
