"""Property tests of the windowing: any bar frame (gaps, duplicates, disorder, NaN or absurd values, short series)
gives windows of shape (n_windows, window_min) with finite values, a split label each and starts on the minute
grid inside the series, or a DataValidationError; never another exception, never a silently wrong shape."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import event, given, settings
from hypothesis import strategies as st

from pipelines.dataset import SPLITS
from pipelines.errors import DataValidationError
from pipelines.exchange.windows import NORMALIZATIONS, PROXY_FACTORS, WindowConfig, make_windows

BASE = pd.Timestamp("2024-03-01T00:00:00Z")


@st.composite
def window_configs(draw):
    test = draw(st.sampled_from([0.0, 0.2, 0.5]))
    return WindowConfig(
        window_min=draw(st.integers(2, 30)),
        stride_min=draw(st.integers(1, 10)),
        max_ffill_min=draw(st.integers(0, 5)),
        normalization=draw(st.sampled_from(NORMALIZATIONS)),
        val_fraction=draw(st.sampled_from([0.0, 0.2])) if test < 0.5 else 0.0,
        test_fraction=test,
        embargo_min=draw(st.integers(0, 20)),
    )


VALUE = st.one_of(
    st.floats(min_value=1.0, max_value=1e6),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -5.0, 1e-300, 1e300]),
)


@st.composite
def bar_frames(draw):
    """Up to 300 bars: a random walk over a minute grid with up to 60 missing minutes (drawn by a seeded generator,
    so examples are cheap), then maybe corrupted with duplicated or shuffled rows, off-grid seconds, absurd values."""
    n = draw(st.integers(0, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    minutes = np.sort(rng.choice(n + draw(st.integers(0, 60)), size=n, replace=False))
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    frame = pd.DataFrame({
        "timestamp": BASE + pd.to_timedelta(minutes, unit="min"), "open": close, "high": close * 1.001,
        "low": close * 0.999, "close": close, "volume": rng.exponential(1.0, n),
    })  # fmt: skip
    for fault in draw(st.lists(st.sampled_from(["duplicate", "shuffle", "off_grid", "value"]), max_size=3)):
        if n == 0:
            break
        i = draw(st.integers(0, n - 1))
        if fault == "duplicate":
            frame = pd.concat([frame, frame.iloc[[i]]], ignore_index=True)
        elif fault == "shuffle":
            frame = frame.sample(frac=1.0, random_state=int(rng.integers(1 << 31))).reset_index(drop=True)
        elif fault == "off_grid":
            frame.loc[i, "timestamp"] += pd.Timedelta(seconds=draw(st.integers(1, 59)))
        else:
            frame.loc[i, draw(st.sampled_from(["open", "high", "low", "close", "volume"]))] = draw(VALUE)
    return frame


@settings(max_examples=250)
@given(bars=bar_frames(), cfg=window_configs())
def test_any_bars_give_well_formed_windows_or_a_data_validation_error(bars, cfg):
    try:
        data = make_windows(bars, cfg)
    except DataValidationError as e:
        reason = "short" if "fewer than one" in str(e) else "gaps" if "no gap-free" in str(e) else "bad bars"
        event(f"DataValidationError: {reason}")
        return
    event("windows")
    n = len(data)
    assert n >= 1 and data.x.shape == (n, cfg.window_min) and data.x.dtype == np.float32
    assert np.isfinite(data.x).all()
    assert data.factors.shape == (n, len(PROXY_FACTORS)) and np.isfinite(data.factors).all()
    assert set(data.split) <= set(SPLITS)
    starts = pd.DatetimeIndex(data.labels.start)
    assert starts.is_monotonic_increasing and starts.is_unique
    assert starts.min() >= bars.timestamp.min()
    assert (starts + pd.Timedelta(minutes=cfg.window_min - 1)).max() <= bars.timestamp.max()
    order = {name: i for i, name in enumerate(SPLITS)}
    assert list(data.split) == sorted(data.split, key=order.get)  # train, then val, then test, in time order


@settings(max_examples=100)
@given(n=st.integers(0, 40), window=st.integers(2, 40))
def test_a_clean_series_gives_every_window_that_fits(n, window):
    close = np.linspace(100.0, 120.0, n)
    bars = pd.DataFrame({"timestamp": BASE + pd.to_timedelta(np.arange(n), unit="min"), "open": close,
                         "high": close, "low": close, "close": close, "volume": 1.0})  # fmt: skip
    cfg = WindowConfig(window_min=window, stride_min=1, test_fraction=0.0)
    if n < window:
        try:
            make_windows(bars, cfg)
        except DataValidationError as e:
            assert "fewer than one" in str(e)
            return
        raise AssertionError("a series shorter than one window gave windows")
    data = make_windows(bars, cfg)
    assert data.x.shape == (n - window + 1, window)
    np.testing.assert_allclose(data.x[:, 0], 0.0)  # log return since the window opened
