"""Great Expectations suite for raw ECG records: one summary row per record (sampling rate, duration, lead
set, NaN / flat / saturated fractions, amplitude range), validated with GX; failing records are quarantined
with every reason they failed."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.ecg.records import read_signal
from pipelines.errors import IngestError
from pipelines.quarantine import Reject
from pipelines.validation.expectations import Check, SuiteResult, run_suite

log = logging.getLogger(__name__)


PTB_LEADS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6", "vx", "vy", "vz")
UNREADABLE = "signal unreadable or a required lead is missing"
UNKNOWN_LEADS = "unknown lead name(s)"


@dataclass(frozen=True)
class RecordChecksConfig:
    fs_hz: float = 1000.0  # PTB's rate; the synthetic records use it too
    min_duration_s: float = 10.0
    max_nan_frac: float = 0.0
    max_flat_frac: float = 0.2  # share of samples equal to their predecessor (a disconnected lead is flat)
    max_saturated_frac: float = 0.01  # share of samples at the lead's extreme values (ADC clipping)
    amplitude_mv: tuple[float, float] = (0.1, 20.0)  # allowed 0.5-99.5 percentile range of each lead
    min_good_records: int = 1  # fewer good records than this fails the blocking check
    known_leads: tuple[str, ...] = PTB_LEADS  # a lead named otherwise is a header error


def record_summary(
    records: pd.DataFrame, source: str | Path, leads: list[str], known_leads: tuple[str, ...] = PTB_LEADS
) -> pd.DataFrame:
    """One row per record with the quantities the suite checks; worst lead wins for per-lead quantities."""
    rows = []
    for rec in records.itertuples(index=False):
        unknown = sorted(set(rec.leads.split(",")) - set(known_leads)) if rec.leads else []
        row = {
            "record": rec.record,
            "fs_hz": rec.fs_hz,
            "duration_s": rec.duration_s,
            "readable": True,
            "read_error": "",
            "known_leads": not unknown,
            "unknown_leads": ",".join(unknown),
            "nan_frac": np.nan,
            "flat_frac": np.nan,
            "saturated_frac": np.nan,
            "amplitude_mv": np.nan,
        }
        try:
            signal, _ = read_signal(source, rec.record, leads)
        except IngestError as e:
            log.warning("%s", e)
            rows.append(row | {"readable": False, "read_error": str(e)})
            continue
        finite = np.where(np.isfinite(signal), signal, np.nan)
        lo, hi = np.nanpercentile(finite, [0.5, 99.5], axis=0) if np.isfinite(finite).any() else (np.nan, np.nan)
        at_extreme = (signal == np.nanmax(finite, axis=0)) | (signal == np.nanmin(finite, axis=0))
        row |= {
            "nan_frac": float(np.isnan(finite).mean()),
            "flat_frac": float((np.diff(signal, axis=0) == 0).mean(axis=0).max()),
            "saturated_frac": float(at_extreme.mean(axis=0).max()),
            "amplitude_mv": float(np.min(hi - lo)),
        }
        rows.append(row)
    return pd.DataFrame(rows)


def record_checks(cfg: RecordChecksConfig) -> list[Check]:
    between = "ExpectColumnValuesToBeBetween"
    return [
        Check("ExpectColumnValuesToBeInSet", {"column": "readable", "value_set": [True]}, UNREADABLE),
        Check("ExpectColumnValuesToBeInSet", {"column": "known_leads", "value_set": [True]}, UNKNOWN_LEADS),
        Check("ExpectColumnValuesToBeInSet", {"column": "fs_hz", "value_set": [cfg.fs_hz]},
              f"sampled at another rate than {cfg.fs_hz:g} Hz"),
        Check(between, {"column": "duration_s", "min_value": cfg.min_duration_s},
              f"shorter than {cfg.min_duration_s:g} s"),
        Check(between, {"column": "nan_frac", "max_value": cfg.max_nan_frac}, "contains NaN or infinite samples"),
        Check(between, {"column": "flat_frac", "max_value": cfg.max_flat_frac},
              f"a lead is flat in more than {cfg.max_flat_frac:.0%} of samples"),
        Check(between, {"column": "saturated_frac", "max_value": cfg.max_saturated_frac},
              f"a lead sits at its extreme value in more than {cfg.max_saturated_frac:.0%} of samples (clipped)"),
        Check(between, {"column": "amplitude_mv", "min_value": cfg.amplitude_mv[0], "max_value": cfg.amplitude_mv[1]},
              f"amplitude range outside {cfg.amplitude_mv[0]:g}-{cfg.amplitude_mv[1]:g} mV"),
    ]  # fmt: skip


def _detailed(reason: str, row: pd.Series) -> str:
    """A failing expectation's reason with the record's specifics (the read error, the unknown lead names)."""
    if reason == UNREADABLE and row.read_error:
        return row.read_error
    if reason == UNKNOWN_LEADS:
        return f"{reason} {row.unknown_leads.split(',')}"
    return reason


def validate_records(
    records: pd.DataFrame, source: str | Path, leads: list[str], cfg: RecordChecksConfig
) -> tuple[pd.DataFrame, list[Reject], SuiteResult]:
    """Records that pass every expectation, a reject per failing record (all its reasons), and the suite."""
    summary = record_summary(records, source, leads, tuple(cfg.known_leads))
    result = run_suite("ecg_records", summary, record_checks(cfg))
    bad = sorted(result.failing_rows)
    rejects = [Reject(summary.record[i], "; ".join(_detailed(r, summary.iloc[i]) for r in result.failing_rows[i]))
               for i in bad]  # fmt: skip
    good = records.reset_index(drop=True).drop(index=bad).reset_index(drop=True)
    return good, rejects, result
