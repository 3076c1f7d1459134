"""180-minute windows: strided, gap-aware, time-split without overlap, factors from the generator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.errors import ConfigError
from pipelines.exchange.bars import ingest_bars
from pipelines.exchange.gaps import gap_stats, minute_grid
from pipelines.exchange.windows import WindowConfig, make_windows
from pipelines.synthetic.btc import BARS_FILE, FACTORS_FILE, SyntheticBtcConfig, generate_btc
from tests.conftest import shared


def _bars(minutes, close=None):
    ts = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.asarray(minutes), unit="min")
    close = np.linspace(100, 110, len(ts)) if close is None else close
    return pd.DataFrame({"timestamp": ts, "open": close, "high": close + 1, "low": close - 1, "close": close,
                         "volume": 1.0})  # fmt: skip


def test_short_gaps_are_forward_filled_and_long_gaps_stay_missing():
    minutes = [m for m in range(60) if m not in (10, 11, 30, 31, 32, 33, 34, 35)]  # 2-minute and 6-minute gaps
    _, cols = minute_grid(_bars(minutes), max_ffill_min=5)
    assert np.isnan(cols["close"]).sum() == 6
    assert cols["close"][10] == cols["close"][9] and cols["volume"][10] == 0.0


def test_gap_stats_count_short_and_long_gaps():
    minutes = [m for m in range(60) if m not in (10, 11, 30, 31, 32, 33, 34, 35)]
    assert gap_stats(_bars(minutes), max_ffill_min=5) == {
        "missing_minutes": 8, "gaps": 2, "gaps_filled": 1, "gaps_long": 1, "longest_gap_min": 6,
    }  # fmt: skip


def test_windows_never_span_a_long_gap():
    minutes = [m for m in range(1000) if not 400 <= m < 410]
    data = make_windows(_bars(minutes), WindowConfig(window_min=100, stride_min=50, test_fraction=0))
    starts = (data.labels.start - data.labels.start.iloc[0]).dt.total_seconds().to_numpy() // 60
    assert not np.any((starts < 410) & (starts + 100 > 400))
    assert len(data) == 17  # starts 0, 50 .. 300 before the gap (7) and 450 .. 900 after it (10)


def test_train_val_test_are_ordered_in_time_with_an_embargo_between_them():
    cfg = WindowConfig(window_min=180, stride_min=30, val_fraction=0.2, test_fraction=0.2, embargo_min=60)
    data = make_windows(_bars(range(10_000)), cfg)
    starts = data.labels.start
    assert set(data.split) == {"train", "val", "test"}
    for earlier, later in (("train", "val"), ("val", "test")):
        end = starts[data.split == earlier].max() + pd.Timedelta(minutes=180 + 60)
        assert end <= starts[data.split == later].min(), (earlier, later)


def test_train_windows_end_before_the_first_test_window_starts():
    data = make_windows(_bars(range(5000)), WindowConfig(window_min=180, stride_min=30, test_fraction=0.25))
    starts = data.labels.start
    first_test = starts[data.split == "test"].min()
    last_train_end = starts[data.split == "train"].max() + pd.Timedelta(minutes=180)
    assert last_train_end <= first_test


def test_real_bars_give_log_return_windows_with_proxy_labels():
    bars, _ = ingest_bars(shared("exchange"))
    data = make_windows(bars, WindowConfig())
    assert data.x.shape[1] == 180 and data.factor_kind == "proxy"
    assert len(data) >= 40  # two days at a 60-minute stride, less the embargo
    assert np.allclose(data.x[:, 0], 0) and np.abs(data.x).max() < 0.2
    assert (data.labels.realised_vol > 0).all()


def test_synthetic_windows_average_the_generator_factors(tmp_path):
    generate_btc(tmp_path, SyntheticBtcConfig(days=10))
    bars, _ = ingest_bars((tmp_path / BARS_FILE).parent)
    factors = pd.read_csv(tmp_path / FACTORS_FILE)
    data = make_windows(bars, WindowConfig(stride_min=180), factors)  # stride = block: one block per window
    vol = data.factors[:, data.factor_names.index("volatility")]
    assert np.corrcoef(vol, data.labels.realised_vol)[0, 1] > 0.8  # the realised volatility follows the factor


def test_the_range_channel_is_the_trailing_mean_range_of_each_window():
    rng = np.random.default_rng(2)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, 600)))
    bars = _bars(range(600), close).assign(high=close * np.exp(rng.uniform(0, 0.004, 600)), low=close)
    bars.loc[7, "high"] = bars.loc[7, "low"]  # a flat minute: its range is floored
    data = make_windows(bars, WindowConfig(window_min=60, stride_min=60, test_fraction=0, range_channel=True))
    assert data.x.shape == (10, 120) and data.channel_names[1].startswith("range")
    minute = np.maximum(np.log(bars.high / bars.low).to_numpy(), 1e-5)
    for i in (0, 4):
        r = minute[i * 60 : i * 60 + 60]
        mean = [r[max(t - 14, 0) : t + 1].mean() for t in range(60)]  # the last 15 minutes, fewer at the start
        np.testing.assert_allclose(data.x[i, 60:], 0.02 * np.log(np.array(mean) / 1e-3), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(data.x[:, :60], make_windows(bars, WindowConfig(window_min=60, stride_min=60,
                               test_fraction=0)).x)  # fmt: skip


def test_synthetic_windows_score_trend_and_volatility_and_show_both(tmp_path):
    """The benchmark's windows: one block each, factors independent, trend in the path and volatility in the
    range channel (each read back by a plain statistic), the unscored factors kept as labels."""
    from scipy.stats import spearmanr

    generate_btc(tmp_path, SyntheticBtcConfig(days=100))
    bars, _ = ingest_bars((tmp_path / BARS_FILE).parent)
    factors = pd.read_csv(tmp_path / FACTORS_FILE)
    cfg = WindowConfig(stride_min=180, test_fraction=0, range_channel=True)
    data = make_windows(bars, cfg, factors, scored=["trend", "volatility"])
    assert len(data) == 800 and data.factor_names == ["trend", "volatility"]
    assert {"mean_reversion", "jump_rate", "volume_level"} <= set(data.labels.columns)
    trend, vol = data.factors.T
    assert abs(spearmanr(trend, vol)[0]) < 0.1
    assert spearmanr(data.x[:, 179], trend)[0] > 0.8  # the path's end: the window's log return
    assert spearmanr(data.x[:, 180:].mean(axis=1), vol)[0] > 0.95


@pytest.mark.parametrize("how", ["log_return", "step_log_return", "relative", "zscore"])
def test_normalisations_agree_with_their_definitions(how):
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, 400)))
    data = make_windows(_bars(range(400), close), WindowConfig(window_min=50, stride_min=50, test_fraction=0,
                                                               normalization=how))  # fmt: skip
    c = close[:50]
    expected = {"log_return": np.log(c / c[0]), "step_log_return": np.diff(np.log(c), prepend=np.log(c[0])),
                "relative": c / c[0] - 1, "zscore": (c - c.mean()) / c.std()}[how]  # fmt: skip
    np.testing.assert_allclose(data.x[0], expected, rtol=1e-5, atol=1e-6)


def test_labels_equal_their_per_window_definitions():
    close = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.002, 2000)))
    data = make_windows(_bars(range(2000), close), WindowConfig(window_min=180, stride_min=37, test_fraction=0))
    for i, start in enumerate(range(0, 2000 - 180 + 1, 37)):
        c = close[start : start + 180]
        assert data.labels.realised_vol[i] == pytest.approx(np.std(np.diff(np.log(c))), rel=1e-6)
        assert data.labels.trend[i] == pytest.approx(np.log(c[-1] / c[0]), rel=1e-9)
        assert data.labels.range[i] == pytest.approx(np.log((c + 1).max() / (c - 1).min()), rel=1e-9)


@pytest.mark.parametrize(
    "bad", [{"embargo_min": -60}, {"test_fraction": 1.0}, {"val_fraction": 0.5, "test_fraction": 0.5}]
)
def test_split_settings_that_would_leak_or_empty_a_split_are_config_errors(bad):
    with pytest.raises(ConfigError, match="windows:"):
        WindowConfig(**bad)


def test_unknown_normalisation_is_a_config_error():
    with pytest.raises(ConfigError, match="normalization"):
        WindowConfig(normalization="minmax")


def test_minutes_before_the_first_factor_block_do_not_poison_later_windows(tmp_path):
    """Regression (review of issue 3): one NaN minute made every later window's factors NaN via cumsum."""
    generate_btc(tmp_path, SyntheticBtcConfig(days=2))
    bars, _ = ingest_bars((tmp_path / BARS_FILE).parent)
    factors = pd.read_csv(tmp_path / FACTORS_FILE).iloc[1:]  # the first block's factors are unknown
    data = make_windows(bars, WindowConfig(stride_min=180, test_fraction=0), factors)
    assert np.isnan(data.factors[0]).all() and np.isfinite(data.factors[1:]).all()
