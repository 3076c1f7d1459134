"""Great Expectations suite for minute bars: positive prices in a sane range, high/low consistent with open
and close, non-negative volume, unique increasing timestamps. Failing rows are quarantined with reasons."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipelines.quarantine import Reject
from pipelines.validation.expectations import Check, SuiteResult, run_suite


@dataclass(frozen=True)
class BarChecksConfig:
    price_usd: tuple[float, float] = (1.0, 10_000_000.0)  # sane BTC/USD range for any bar
    min_good_fraction: float = 0.9  # a smaller share of good bars fails the blocking check


def bar_checks(cfg: BarChecksConfig) -> list[Check]:
    lo, hi = cfg.price_usd
    checks = [
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": c, "min_value": lo, "max_value": hi},
            f"{c} outside {lo:g}-{hi:g} USD",
        )
        for c in ("open", "high", "low", "close")
    ]
    pairs = [("high", "low"), ("high", "open"), ("high", "close"), ("open", "low"), ("close", "low")]
    checks += [
        Check(
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": a, "column_B": b, "or_equal": True},
            f"{a} below {b}",
        )
        for a, b in pairs
    ]
    checks += [
        Check("ExpectColumnValuesToBeBetween", {"column": "volume", "min_value": 0}, "negative volume"),
        Check("ExpectColumnValuesToBeUnique", {"column": "timestamp"}, "duplicate timestamp"),
        Check(
            "ExpectColumnValuesToBeIncreasing",
            {"column": "timestamp", "strictly": True},
            "timestamp not increasing",
        ),
    ]
    return checks


def validate_bars(bars: pd.DataFrame, cfg: BarChecksConfig) -> tuple[pd.DataFrame, list[Reject], SuiteResult]:
    """Bars that pass every expectation, a reject per failing bar (all its reasons), and the suite result."""
    bars = bars.reset_index(drop=True)
    result = run_suite("btc_bars", bars, bar_checks(cfg))
    bad = sorted(result.failing_rows)
    rejects = [
        Reject(f"{bars.source[i]}@{bars.timestamp[i].isoformat()}", "; ".join(result.failing_rows[i])) for i in bad
    ]
    return bars.drop(index=bad).reset_index(drop=True), rejects, result
