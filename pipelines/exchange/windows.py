"""Fixed-length windows of minute bars (default 180 minutes), built with strided views, never a Python loop
per window.

Gaps: bars are placed on a complete minute grid; runs of at most `max_ffill_min` missing minutes are filled
with the previous close (volume 0), longer runs stay missing and no window may contain one.

Normalisation of each window's closes c[0..W-1] (config `normalization`):
- `log_return` (default): log(c[t] / c[0]), the cumulative log return since the window opened;
- `step_log_return`: log(c[t] / c[t-1]), the 1-minute log returns (0 for the first minute);
- `relative`: c[t] / c[0] - 1;
- `zscore`: (c[t] - mean(c)) / std(c) per window (drops the volatility level; for shape-only studies).

With `range_channel` a second channel follows the closes: the bars' high-low range, which carries the volatility
that a path of closes shows too faintly for a fixed-variance decoder to learn: GAIN * log(m(t) / REF), m(t) the
mean of log(high / low) over the window's last RANGE_MEAN_MIN minutes up to t (fewer at its start), each minute's
range floored at RANGE_FLOOR (forward-filled and flat minutes have none). GAIN scales it to the closes' spread.

Labels per window (usable as proxy factors): realised volatility (std of 1-minute log returns), trend (log
return over the window), log volume, range (log of max high / min low) and hour of day (UTC) of the start.
With synthetic data, the generative factors of the minutes a window covers are averaged into its factors.

Splits are time-ordered: train, then `val_fraction` of the windows, then the latest `test_fraction`; a window of
an earlier split ends at least `embargo_min` minutes before the first window of the next one starts (windows in
between are dropped as embargo), so no window overlaps a window of another split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from pipelines.dataset import TrainingSet
from pipelines.errors import ConfigError, DataValidationError
from pipelines.exchange.gaps import minute_grid

log = logging.getLogger(__name__)

CHUNK = 8192  # windows normalised at a time
PROXY_FACTORS = ["realised_vol", "trend", "log_volume", "range", "hour_utc"]
NORMALIZATIONS = ("log_return", "step_log_return", "relative", "zscore")
RANGE_MEAN_MIN, RANGE_FLOOR, RANGE_REF, RANGE_GAIN = 15, 1e-5, 1e-3, 0.02  # the range channel (module docstring)


@dataclass(frozen=True)
class WindowConfig:
    window_min: int = 180  # bars per window
    stride_min: int = 60  # minutes between window starts
    max_ffill_min: int = 5  # gaps up to this long are forward-filled; longer gaps split the series
    normalization: str = "log_return"  # one of NORMALIZATIONS
    val_fraction: float = 0.0  # share of windows for validation, just before the test windows
    test_fraction: float = 0.2  # latest share of windows held out
    embargo_min: int = 0  # extra minutes between the last training window's end and the first test start
    range_channel: bool = False  # a second channel: the bars' high-low range (module docstring)

    def __post_init__(self):
        if self.normalization not in NORMALIZATIONS:
            raise ConfigError(f"windows.normalization: {self.normalization!r} is not one of {NORMALIZATIONS}")
        if self.window_min < 2 or self.stride_min < 1:
            raise ConfigError(f"windows: window_min {self.window_min} and stride_min {self.stride_min} too small")
        if self.val_fraction < 0 or self.test_fraction < 0 or self.val_fraction + self.test_fraction >= 1:
            raise ConfigError("windows: val_fraction and test_fraction must be >= 0 and sum to less than 1")
        if self.embargo_min < 0 or self.max_ffill_min < 0:
            raise ConfigError("windows: embargo_min and max_ffill_min must be >= 0 (a negative embargo leaks)")


def _normalize(log_c: np.ndarray, close: np.ndarray, starts: np.ndarray, w: int, how: str) -> np.ndarray:
    """Windows (N, w) float32 starting at `starts`, normalised as NORMALIZATIONS describes."""
    if how == "log_return":  # filled in chunks so the float64 intermediate stays small
        out = np.empty((len(starts), w), dtype=np.float32)
        view = sliding_window_view(log_c, w)
        for i in range(0, len(starts), CHUNK):
            part = starts[i : i + CHUNK]
            out[i : i + CHUNK] = view[part] - log_c[part, None]
        return out
    if how == "step_log_return":
        steps = np.diff(sliding_window_view(log_c, w)[starts], axis=1)
        return np.concatenate([np.zeros((len(starts), 1)), steps], axis=1).astype(np.float32)
    closes = sliding_window_view(close, w)[starts]
    if how == "relative":
        return (closes / closes[:, :1] - 1.0).astype(np.float32)
    std = closes.std(axis=1, keepdims=True)
    return ((closes - closes.mean(axis=1, keepdims=True)) / np.where(std > 0, std, 1.0)).astype(np.float32)


def _range_channel(high: np.ndarray, low: np.ndarray, starts: np.ndarray, w: int) -> np.ndarray:
    """(N, w) GAIN * log(trailing mean range / REF) of the windows at `starts` (module docstring)."""
    minute = np.maximum(np.log(high / low), RANGE_FLOOR)
    csum = np.cumsum(sliding_window_view(minute, w)[starts], axis=1)
    csum = np.concatenate([np.zeros((len(starts), 1)), csum], axis=1)
    t = np.arange(1, w + 1)
    first = np.maximum(t - RANGE_MEAN_MIN, 0)
    mean = (csum[:, t] - csum[:, first]) / (t - first)
    return (RANGE_GAIN * np.log(mean / RANGE_REF)).astype(np.float32)


def _window_means(per_minute: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """Mean of each column of per_minute (T, F) over [start, start + width) for each start, via cumsums; NaN
    minutes (no factor known) are left out, and a window with none known is NaN."""
    zero = np.zeros((1, per_minute.shape[1]))
    csum = np.concatenate([zero, np.nancumsum(per_minute, axis=0)])
    count = np.concatenate([zero, np.cumsum(np.isfinite(per_minute), axis=0)])
    n = count[starts + width] - count[starts]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (csum[starts + width] - csum[starts]) / n, np.nan)


def expand_block_factors(grid: pd.DatetimeIndex, factors: pd.DataFrame) -> np.ndarray:
    """Per-minute values (T, F) of block factors given by block start (column `start`), forward in time."""

    def utc_ns(times) -> np.ndarray:  # int64 nanoseconds: tz-aware arrays compare as slow objects
        return pd.DatetimeIndex(pd.to_datetime(times, utc=True)).as_unit("ns").asi8

    block = np.searchsorted(utc_ns(factors["start"]), utc_ns(grid), side="right") - 1
    values = factors.drop(columns="start").to_numpy(dtype=np.float64)
    out = values[np.clip(block, 0, len(values) - 1)]
    out[block < 0] = np.nan
    return out


def time_split(starts: np.ndarray, cfg: WindowConfig) -> np.ndarray:
    """'train'/'val'/'test'/'embargo' per window start (minutes on the grid), in that order in time. A window
    that would overlap the next split (or come within `embargo_min` of its first window) is 'embargo'."""
    split = np.full(len(starts), "train", dtype=object)
    if len(starts) < 2:
        return split.astype(str)
    bounds = []  # (name, index of its first window), later splits first
    for name, fraction in (("test", cfg.test_fraction), ("val", cfg.val_fraction + cfg.test_fraction)):
        if fraction > 0 and (name == "test" or cfg.val_fraction > 0):
            bounds.append((name, min(int(np.floor(len(starts) * (1 - fraction))), len(starts) - 1)))
    for name, first in bounds:  # test first, then val: each later split claims its windows and embargoes
        start = starts[first]
        unassigned = split == "train"
        split[unassigned & (starts >= start)] = name
        split[unassigned & (starts < start) & (starts + cfg.window_min + cfg.embargo_min > start)] = "embargo"
    return split.astype(str)


def check_bars(bars: pd.DataFrame) -> None:
    """Raise DataValidationError naming the first offending bar unless the bars are what the windows assume:
    timestamps increasing, unique and whole minutes apart; prices positive and finite; volume finite and >= 0.
    Validated bars (pipelines.validation.bars) always are; anything else would give NaN or misplaced windows."""
    ts = bars["timestamp"]
    if ts.isna().any():
        raise DataValidationError(f"bar {int(np.flatnonzero(ts.isna())[0])}: no timestamp")
    step = ts.diff().iloc[1:]
    bad = (step <= pd.Timedelta(0)) | (step % pd.Timedelta(minutes=1) != pd.Timedelta(0))
    if bad.any():
        i = bad.to_numpy().argmax() + 1
        raise DataValidationError(
            f"bar at {ts.iloc[i].isoformat()}: follows {ts.iloc[i - 1].isoformat()}; bars must be increasing, "
            "unique and whole minutes apart"
        )
    prices = bars[["open", "high", "low", "close"]].to_numpy(dtype=np.float64)
    volume = bars["volume"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad_row = ~(np.isfinite(prices) & (prices > 0)).all(axis=1) | ~(np.isfinite(volume) & (volume >= 0))
    if bad_row.any():
        i = bad_row.argmax()
        raise DataValidationError(
            f"bar at {ts.iloc[i].isoformat()}: {int(bad_row.sum())} bar(s) with a non-positive or non-finite price "
            "or a negative or non-finite volume; validate the bars first (pipelines.validation.bars)"
        )


def _gap_free_starts(bars: pd.DataFrame, cfg: WindowConfig):
    """The bars' minute grid (T,), its columns close/high/low/volume (T,) with short gaps filled, which of the
    candidate starts (every `stride_min` minutes) begin a window without a missing minute, and those starts."""
    if len(bars) < cfg.window_min:
        raise DataValidationError(f"{len(bars)} bars are fewer than one {cfg.window_min}-minute window")
    check_bars(bars)
    grid, cols = minute_grid(bars, cfg.max_ffill_min)
    w = cfg.window_min
    gap_count = np.concatenate([[0], np.cumsum(np.isnan(cols["close"]))])
    candidates = np.arange(0, len(grid) - w + 1, cfg.stride_min)
    gap_free = gap_count[candidates + w] - gap_count[candidates] == 0
    starts = candidates[gap_free]
    if len(starts) == 0:
        raise DataValidationError(f"no gap-free {w}-minute window in {len(bars)} bars")
    return grid, cols, gap_free, starts


def _window_labels(grid: pd.DatetimeIndex, cols: dict[str, np.ndarray], log_c: np.ndarray, gap_free: np.ndarray,
                   starts: np.ndarray, cfg: WindowConfig) -> pd.DataFrame:  # fmt: skip
    """Labels of the windows at `starts` (start time and PROXY_FACTORS, module docstring). Every per-window
    quantity is a strided view (no copy) reduced along its last axis, or a difference of cumulative sums: O(T)
    work for the labels whatever the stride."""
    w = cfg.window_min
    ret = np.diff(log_c, prepend=log_c[0])  # ret[t] = log return into minute t
    csum = np.concatenate([[0.0], np.nancumsum(ret)])
    csum2 = np.concatenate([[0.0], np.nancumsum(ret**2)])
    n_ret = w - 1  # returns inside a window: minutes start+1 .. start+w-1
    mean = (csum[starts + w] - csum[starts + 1]) / n_ret
    var = (csum2[starts + w] - csum2[starts + 1]) / n_ret - mean**2
    view = np.s_[:: cfg.stride_min]
    highs = sliding_window_view(cols["high"], w)[view].max(axis=1)[gap_free]
    lows = sliding_window_view(cols["low"], w)[view].min(axis=1)[gap_free]
    vol_sum = np.concatenate([[0.0], np.nancumsum(cols["volume"])])
    return pd.DataFrame({
        "start": grid[starts], "realised_vol": np.sqrt(np.maximum(var, 0.0)),
        "trend": log_c[starts + w - 1] - log_c[starts], "log_volume": np.log1p(vol_sum[starts + w] - vol_sum[starts]),
        "range": np.log(highs / lows), "hour_utc": grid[starts].hour.to_numpy(),
    })  # fmt: skip


def _generative_factors(labels: pd.DataFrame, grid: pd.DatetimeIndex, starts: np.ndarray, w: int,
                        block_factors: pd.DataFrame, scored: list[str] | None):  # fmt: skip
    """The names and values (N, F) of the scored block factors, averaged over each window's minutes, and the
    labels with the unscored ones added as columns."""
    all_names = [c for c in block_factors.columns if c != "start"]
    means = _window_means(expand_block_factors(grid, block_factors), starts, w)
    names = [c for c in all_names if scored is None or c in scored]
    labels = labels.assign(**{c: means[:, all_names.index(c)] for c in all_names if c not in names})
    return names, means[:, [all_names.index(c) for c in names]], labels


def _window_samples(log_c: np.ndarray, cols: dict[str, np.ndarray], starts: np.ndarray, cfg: WindowConfig):
    """The windows at `starts` as the model sees them, (N, w) normalised closes then, with `range_channel`, the
    range channel (N, 2w); their value label and channel names."""
    w = cfg.window_min
    x = _normalize(log_c, cols["close"], starts, w, cfg.normalization)
    value_label = f"close ({cfg.normalization})"
    if not cfg.range_channel:
        return x, value_label, []
    x = np.concatenate([x, _range_channel(cols["high"], cols["low"], starts, w)], axis=1)
    return x, value_label, [value_label, f"range ({RANGE_GAIN:g} log, {RANGE_MEAN_MIN}-min mean)"]


def make_windows(
    bars: pd.DataFrame, cfg: WindowConfig, block_factors: pd.DataFrame | None = None, scored: list[str] | None = None
) -> TrainingSet:
    """Windows (N, window_min, or twice that with the range channel) of validated minute bars. `block_factors`
    (synthetic data) give each window its generative factors; those not in `scored` (default: all) are kept as
    labels, recorded but not scored. Raises DataValidationError when the bars break `check_bars` or no window
    fits."""
    grid, cols, gap_free, starts = _gap_free_starts(bars, cfg)
    w = cfg.window_min
    log_c = np.log(cols["close"])
    labels = _window_labels(grid, cols, log_c, gap_free, starts, cfg)
    if block_factors is not None:
        names, factors, labels = _generative_factors(labels, grid, starts, w, block_factors, scored)
    else:
        names, factors = PROXY_FACTORS, labels[PROXY_FACTORS].to_numpy(dtype=np.float64)
    split = time_split(starts, cfg)
    keep = split != "embargo"
    n_gaps = int(np.sum(np.diff(np.concatenate([[0], np.isnan(cols["close"]).astype(np.int8)])) == 1))  # long ones
    log.info("%d windows of %d min (stride %d) from %d bars; %d long gap(s); %d embargoed",
             keep.sum(), w, cfg.stride_min, len(bars), n_gaps, (~keep).sum())  # fmt: skip
    x, value_label, channels = _window_samples(log_c, cols, starts[keep], cfg)
    return TrainingSet(
        x=x, axis=np.arange(w, dtype=np.float64), channels=channels,
        axis_label="minutes since window start", value_label=value_label,
        factors=factors[keep], factor_names=list(names), factor_kind="generative" if block_factors is not None
        else "proxy", split=split[keep], labels=labels[keep].reset_index(drop=True),
    )  # fmt: skip
