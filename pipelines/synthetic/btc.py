"""Synthetic BTC/USD-like 1-minute OHLCV bars with known factors, written as a generic OHLCV CSV.

The log price follows, within each block of `block_min` minutes, a trend line plus an Ornstein-Uhlenbeck
deviation with compound-Poisson jumps:

    log p(t) = a + trend * t / block_min + y(t),   dy = -kappa * y dt + sigma dW + J dN(jump_rate)

simulated on `ticks_per_min` sub-minute ticks so that open/high/low/close come from a real path. Volatility
switches between a calm and a turbulent regime (Markov chain over blocks); volume is log-normal with a mean that
rises with volatility (the volume-volatility relation) times a per-block volume level. The factors of every block
are saved per window in `window_factors.csv`: block start, trend, volatility, mean_reversion, jump_rate,
volume_level. A few minutes are dropped, as real feeds miss minutes.
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

FACTORS = ("trend", "volatility", "mean_reversion", "jump_rate", "volume_level")
BARS_FILE = "bars/btcusd_1min.csv"
FACTORS_FILE = "window_factors.csv"


@dataclass(frozen=True)
class SyntheticBtcConfig:
    days: int = 60
    block_min: int = 180  # factors are constant over a block: one block per 180-minute window
    ticks_per_min: int = 10
    start: str = "2024-01-01T00:00:00Z"
    start_price_usd: float = 40000.0
    missing_minutes: int = 20  # minutes dropped at random, as real feeds miss some
    seed: int = 0


def draw_block_factors(rng: np.random.Generator, n_blocks: int) -> pd.DataFrame:
    """Per-block factors. Units: trend in log-return per block, volatility in log-return per sqrt(minute),
    mean_reversion per minute, jump_rate in jumps per block, volume_level as a multiplier."""
    turbulent = np.zeros(n_blocks, dtype=bool)
    for b in range(1, n_blocks):  # sticky two-state regime: stays with probability 0.85
        turbulent[b] = turbulent[b - 1] if rng.random() < 0.85 else not turbulent[b - 1]
    return pd.DataFrame(
        {
            "trend": rng.normal(0.0, 0.01, n_blocks),
            "volatility": np.where(turbulent, 0.0015, 0.0006) * rng.uniform(0.7, 1.4, n_blocks),
            "mean_reversion": rng.uniform(0.0, 0.1, n_blocks),
            "jump_rate": rng.uniform(0.0, 3.0, n_blocks),
            "volume_level": np.exp(rng.normal(0.0, 0.4, n_blocks)),
        }
    )


def simulate_bars(rng: np.random.Generator, cfg: SyntheticBtcConfig, factors: pd.DataFrame) -> pd.DataFrame:
    """OHLCV bars, one per minute, for the blocks in `factors` (no minutes dropped yet)."""
    from scipy.signal import lfilter  # here: the CLI's other stages start without scipy.signal

    k = cfg.ticks_per_min
    n_tick = cfg.block_min * k
    step = np.arange(1, n_tick + 1) / k  # minutes since block start, per tick
    log_p = np.empty((len(factors), n_tick))
    anchor = np.log(cfg.start_price_usd)
    for b, f in enumerate(factors.itertuples()):
        shocks = rng.normal(0.0, f.volatility / np.sqrt(k), n_tick)
        jumps = rng.random(n_tick) < f.jump_rate / n_tick
        shocks[jumps] += rng.normal(0.0, 8 * f.volatility, jumps.sum())
        y = lfilter([1.0], [1.0, -(1.0 - f.mean_reversion / k)], shocks)  # discretised OU, one tick per step
        log_p[b] = anchor + f.trend * step / cfg.block_min + y
        anchor = log_p[b, -1]
    ticks = np.exp(log_p.reshape(-1, k))  # (minutes, ticks)
    opens = np.concatenate([[cfg.start_price_usd], ticks[:-1, -1]])  # open = previous close
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
        bars.assign(timestamp=bars.timestamp.dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
            tmp / BARS_FILE, index=False, float_format="%.8g"
        )
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
