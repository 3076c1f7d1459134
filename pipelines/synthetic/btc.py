"""Synthetic BTC/USD-like 1-minute OHLCV bars with known factors, written as a generic OHLCV CSV: the embedded
disentanglement benchmark for price windows.

The log price follows, within each block of `block_min` minutes, a trend line plus an Ornstein-Uhlenbeck
deviation with compound-Poisson jumps:

    log p(t) = a + trend * t / block_min + y(t),   dy = -kappa * y dt + sigma dW + J dN(jump_rate),  J ~ N(0, 8 sigma)

simulated on `ticks_per_min` sub-minute ticks so that open/high/low/close come from a real path. The benchmark is
factorial: every block draws its factors independently and uniformly over `FACTOR_RANGES`, so that no factor
predicts another; a window that covers exactly one block (the `windows` stride equal to `block_min`) has one value
of each. Trend is read off the path and volatility off the bars' high-low range (the windows' `range` channel);
mean reversion and jumps change a 180-minute path too little to be read back well (the best hand-made statistics
reach |Spearman| 0.36 and 0.42), so they stay recorded nuisances. Volume is log-normal with a mean that rises
with volatility (the volume-volatility relation) times a per-block level. The factors of every block are saved in
`window_factors.csv` (block start, then the factors). A few minutes are dropped, as real feeds miss minutes.
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

FACTOR_RANGES = {  # each block's factors, drawn independently and uniformly
    "trend": (-0.03, 0.03),  # log return of the trend line over the block
    "volatility": (0.0003, 0.002),  # std of the log-price shocks per sqrt(minute)
    "mean_reversion": (0.01, 0.1),  # kappa, per minute
    "jump_rate": (0.0, 3.0),  # jumps per block
}
FACTORS = (*FACTOR_RANGES, "volume_level")
SCORED_FACTORS = ("trend", "volatility")  # what a window shows; the others are recorded as labels, not scored
PRICE_PULL = 0.01  # share of the log price's distance from the start price closed at each block's start
BARS_FILE = "bars/btcusd_1min.csv"
FACTORS_FILE = "window_factors.csv"


@dataclass(frozen=True)
class SyntheticBtcConfig:
    days: int = 2000  # 16,000 blocks of 180 minutes
    block_min: int = 180  # factors are constant over a block: one block per 180-minute window
    ticks_per_min: int = 4
    start: str = "2024-01-01T00:00:00Z"
    start_price_usd: float = 40000.0
    missing_minutes: int = 20  # minutes dropped at random, as real feeds miss some
    seed: int = 0


def draw_block_factors(rng: np.random.Generator, n_blocks: int) -> pd.DataFrame:
    """Per-block factors, independent and uniform over FACTOR_RANGES; volume_level (a multiplier) log-normal."""
    factors = {name: rng.uniform(lo, hi, n_blocks) for name, (lo, hi) in FACTOR_RANGES.items()}
    return pd.DataFrame(factors | {"volume_level": np.exp(rng.normal(0.0, 0.4, n_blocks))})


def simulate_bars(rng: np.random.Generator, cfg: SyntheticBtcConfig, factors: pd.DataFrame) -> pd.DataFrame:
    """OHLCV bars, one per minute, for the blocks in `factors` (no minutes dropped yet)."""
    from scipy.signal import lfilter  # here: the CLI's other stages start without scipy.signal

    k = cfg.ticks_per_min
    n_tick = cfg.block_min * k
    step = np.arange(1, n_tick + 1) / k  # minutes since block start, per tick
    log_p = np.empty((len(factors), n_tick))
    anchors = np.empty(len(factors))  # log price at each block's start
    anchor = home = np.log(cfg.start_price_usd)
    for b, f in enumerate(factors.itertuples()):
        anchors[b] = anchor
        shocks = rng.normal(0.0, f.volatility / np.sqrt(k), n_tick)
        jumps = rng.random(n_tick) < f.jump_rate / n_tick
        shocks[jumps] += rng.normal(0.0, 8 * f.volatility, jumps.sum())
        y = lfilter([1.0], [1.0, -(1.0 - f.mean_reversion / k)], shocks)  # discretised OU, one tick per step
        log_p[b] = anchor + f.trend * step / cfg.block_min + y
        # the next block opens a little nearer the start price: over thousands of blocks the independent trends
        # would otherwise walk the price out of any plausible range (the gap is inside no bar: see opens)
        anchor = log_p[b, -1] - PRICE_PULL * (log_p[b, -1] - home)
    ticks = np.exp(log_p.reshape(-1, k))  # (minutes, ticks)
    opens = np.concatenate([[np.nan], ticks[:-1, -1]])  # open = previous close, but a block opens at its anchor
    opens[:: cfg.block_min] = np.exp(anchors)
    per_minute = np.repeat(factors[["volatility", "volume_level"]].to_numpy(), cfg.block_min, axis=0)
    volume = per_minute[:, 1] * (per_minute[:, 0] / 0.001) * rng.lognormal(1.5, 0.5, len(ticks))
    return pd.DataFrame(
        {
            "timestamp": pd.Timestamp(cfg.start) + pd.to_timedelta(np.arange(len(ticks)), unit="min"),
            "open": opens,
            "high": np.maximum(ticks.max(axis=1), opens),
            "low": np.minimum(ticks.min(axis=1), opens),
            "close": ticks[:, -1],
            "volume": volume,
        }
    )


def write_bars_csv(path: Path, bars: pd.DataFrame) -> None:
    """Bars as a generic OHLCV CSV: ISO-8601 UTC times, prices in cents, volume to 4 decimals (pyarrow's writer:
    pandas' takes ~10 s for the default 2.9 million bars)."""
    import pyarrow as pa
    from pyarrow import csv

    text = bars.assign(
        timestamp=np.datetime_as_string(bars.timestamp.dt.tz_localize(None).to_numpy(), unit="s") + "Z",
        **{c: bars[c].round(2) for c in ("open", "high", "low", "close")},
        volume=bars.volume.round(4),
    )
    with open(path, "wb") as f:
        f.write((",".join(text.columns) + "\n").encode())
        csv.write_csv(pa.Table.from_pandas(text, preserve_index=False), f, csv.WriteOptions(include_header=False))


def generate_btc(out_dir: str | Path, cfg: SyntheticBtcConfig) -> Path:
    """Write bars and per-window factors to `out_dir` (replaced atomically); a no-op if current for `cfg`."""
    out_dir = Path(out_dir)
    if is_current(out_dir, cfg, __file__):
        return out_dir
    rng = np.random.default_rng(cfg.seed)
    n_blocks = cfg.days * 1440 // cfg.block_min
    factors = draw_block_factors(rng, n_blocks)
    bars = simulate_bars(rng, cfg, factors)
    dropped = rng.choice(np.arange(1, len(bars) - 1), cfg.missing_minutes, replace=False)
    bars = bars.drop(index=dropped)
    factors.insert(0, "start", pd.Timestamp(cfg.start) + pd.to_timedelta(np.arange(n_blocks) * cfg.block_min, "min"))
    with atomic_dir(out_dir) as tmp:
        (tmp / BARS_FILE).parent.mkdir(parents=True)
        write_bars_csv(tmp / BARS_FILE, bars)
        factors.assign(start=factors.start.dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
            tmp / FACTORS_FILE, index=False, float_format="%.8g"
        )
        write_manifest(tmp, cfg, __file__)
    log.info(
        "wrote %d synthetic minute bars (%d blocks, %d minutes missing) to %s",
        len(bars),
        n_blocks,
        cfg.missing_minutes,
        out_dir,
    )
    return out_dir
