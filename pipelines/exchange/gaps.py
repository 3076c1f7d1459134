"""Missing minutes in a bar series: put the bars on a complete minute grid, forward-fill short gaps, leave long
ones missing (no window may span them), and count what was found."""

from __future__ import annotations

import numpy as np
import pandas as pd


def missing_runs(missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a boolean mask (T,): the 1-based id of the run of missing values each element belongs to (0: present)
    and the length of each run (index 0 counts the present elements)."""
    run_id = np.cumsum(np.diff(np.concatenate([[0], missing.astype(np.int8)])) == 1) * missing
    return run_id, np.bincount(run_id)


def minute_grid(bars: pd.DataFrame, max_ffill_min: int) -> tuple[pd.DatetimeIndex, dict[str, np.ndarray]]:
    """Bars on a complete minute grid: arrays close/high/low/volume; runs of at most `max_ffill_min` missing
    minutes take the previous close (volume 0), longer runs stay NaN."""
    minutes = ((bars["timestamp"] - bars["timestamp"].iloc[0]) // pd.Timedelta(minutes=1)).to_numpy()
    grid = pd.date_range(bars["timestamp"].iloc[0], periods=int(minutes[-1]) + 1, freq="min")
    cols = {c: np.full(len(grid), np.nan) for c in ("close", "high", "low", "volume")}
    for c in cols:
        cols[c][minutes] = bars[c].to_numpy()
    missing = np.isnan(cols["close"])
    run_id, run_len = missing_runs(missing)
    fill = missing & (run_len[run_id] <= max_ffill_min)
    last_valid = np.maximum.accumulate(np.where(~missing, np.arange(len(grid)), 0))
    prev_close = cols["close"][last_valid]
    for c in ("close", "high", "low"):
        cols[c][fill] = prev_close[fill]
    cols["volume"][fill] = 0.0
    return grid, cols


def gap_stats(bars: pd.DataFrame, max_ffill_min: int) -> dict:
    """Counts of missing minutes between the first and last bar: gaps filled (short) and kept (long)."""
    if len(bars) < 2:
        return {"missing_minutes": 0, "gaps": 0, "gaps_filled": 0, "gaps_long": 0, "longest_gap_min": 0}
    minutes = ((bars["timestamp"] - bars["timestamp"].iloc[0]) // pd.Timedelta(minutes=1)).to_numpy()
    missing = np.ones(int(minutes[-1]) + 1, dtype=bool)
    missing[minutes] = False
    _, run_len = missing_runs(missing)
    runs = run_len[1:]
    return {
        "missing_minutes": int(missing.sum()),
        "gaps": len(runs),
        "gaps_filled": int((runs <= max_ffill_min).sum()),
        "gaps_long": int((runs > max_ffill_min).sum()),
        "longest_gap_min": int(runs.max(initial=0)),
    }
