"""The exchange stages: bar files -> bars table -> validated bars -> price windows (the BTC training set)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipelines.exchange.bars import ingest_bars
from pipelines.exchange.gaps import gap_stats
from pipelines.exchange.windows import make_windows
from pipelines.quarantine import Reject, write_quarantine
from pipelines.stages.common import StageResult, data_stage, samples_result
from pipelines.stages.sources import fetch, source
from pipelines.storage import write_parquet
from pipelines.synthetic.btc import SCORED_FACTORS
from pipelines.validation.bars import validate_bars
from pipelines.workspace import Workspace

if TYPE_CHECKING:
    from pipelines.dataset import TrainingSet
    from pipelines.evaluation.config import TransferConfig


@data_stage("btc")
def ingest_btc(ws: Workspace) -> StageResult:
    src, _, _ = fetch(ws, "btc")
    bars, rejects = ingest_bars(src.directory)
    write_quarantine(ws.quarantine("btc_ingest"), rejects)
    out = write_parquet(ws.btc_bars, bars)
    return StageResult(out, {"bars": len(bars), "files": int(bars.source.nunique())}, rejects)


@data_stage("btc")
def validate_btc(ws: Workspace) -> StageResult:
    cfg = ws.params.btc_validation
    bars = pd.read_parquet(ws.btc_bars)
    good, rejects, suite = validate_bars(bars, cfg)
    write_quarantine(ws.quarantine("btc_validation"), rejects)
    out = write_parquet(ws.btc_bars_validated, good)
    fraction = len(good) / len(bars) if len(bars) else 0.0
    counts = {"bars_in": len(bars), "bars_valid": len(good), "quarantined": len(rejects)}
    gate = f"{fraction:.1%} of bars good ({len(good)} of {len(bars)}), need {cfg.min_good_fraction:.0%}"
    return StageResult(out, counts, rejects, suite, passed=fraction >= cfg.min_good_fraction, gate=gate)


@data_stage("btc")
def price_windows(ws: Workspace) -> StageResult:
    cfg = ws.params.windows
    bars = pd.read_parquet(ws.btc_bars_validated)
    factors_file = source(ws, "btc").factors_file
    factors = pd.read_csv(factors_file) if factors_file is not None else None
    windows = make_windows(bars, cfg, factors, scored=list(SCORED_FACTORS))
    out = windows.save(ws.price_windows)
    result = samples_result(ws.params.window_checks, "price_windows", windows, out, [])
    days = max(bars.timestamp.dt.floor("D").nunique(), 1)  # days with bars: a month-long gap is not 30 days of data
    per_day = {"days_with_bars": days, "windows_per_day": round(len(windows) / days, 2)}
    result.counts |= gap_stats(bars, cfg.max_ffill_min) | per_day
    return result


def btc_samples(ws: Workspace, where: Path) -> tuple[TrainingSet, list[Reject]]:
    """The price windows of the bar files in `where`, through the pipeline's own ingest, validation and window
    recipe (params.yaml), writing nothing; every file or bar set aside is a reject."""
    bars, rejects = ingest_bars(where)
    good, invalid, _ = validate_bars(bars, ws.params.btc_validation)
    return make_windows(good, ws.params.windows), rejects + invalid


def transfer_windows(ws: Workspace, where: Path, cfg: TransferConfig) -> np.ndarray:
    """Price windows (N, L) cut by the `windows` recipe from the bar files in `where`: the data of another period
    that the report's BTC champion is reused on."""
    from pipelines.evaluation.transfer import bar_windows  # here: it imports torch

    return bar_windows(where, ws.params.windows)
