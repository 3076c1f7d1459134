"""Bar ingest: the real exchange files in ../shared/data and the faults real files have."""

from __future__ import annotations

import shutil
import zipfile

import pandas as pd
import pytest

from pipelines.exchange.bars import ingest_bars, read_bar_file
from pipelines.synthetic.btc import BARS_FILE, SyntheticBtcConfig, generate_btc
from tests.conftest import shared


def test_real_lean_minute_zips_ingest_as_utc_minute_bars():
    bars, rejects = ingest_bars(shared("exchange"))
    assert len(bars) == 2 * 1440  # two full UTC days
    assert bars.timestamp.iloc[0] == pd.Timestamp("2017-09-03T00:00:00Z")
    assert bars.timestamp.is_monotonic_increasing and bars.timestamp.is_unique
    first = bars.iloc[0]
    assert (first.open, first.high, first.low, first.close) == (4642.39, 4652.71, 4642.39, 4652.69)
    # the hourly CryptoDataDownload file parses but is not minute data: rejected whole, with the reason
    assert [(r.item, r.reason) for r in rejects] == [("Coinbase_BTCUSD_1h.csv", "bars every 3600 s, expected 60 s")]


def test_real_hourly_csv_with_banner_line_and_newest_first_order_parses():
    bars, rejects = read_bar_file(shared("exchange", "Coinbase_BTCUSD_1h.csv"))
    assert rejects == [] and len(bars) > 10_000
    assert bars.timestamp.is_monotonic_increasing
    assert bars.timestamp.iloc[-1] == pd.Timestamp("2019-10-17T09:00:00Z")  # first data row: "2019-10-17 09-AM"


def test_synthetic_bars_read_through_the_same_code(tmp_path):
    cfg = SyntheticBtcConfig(days=2, missing_minutes=5)
    generate_btc(tmp_path / "btc", cfg)
    bars, rejects = ingest_bars((tmp_path / "btc" / BARS_FILE).parent)
    assert rejects == [] and len(bars) == 2 * 1440 - 5


def _write_csv(path, rows):
    path.write_text("timestamp,open,high,low,close,volume\n" + "\n".join(rows) + "\n")


def test_malformed_duplicate_and_out_of_order_rows_are_quarantined_by_line(tmp_path):
    _write_csv(tmp_path / "bars.csv", [
        "2024-01-01T00:02:00Z,10,11,9,10.5,1",
        "2024-01-01T00:00:00Z,10,11,9,10.5,1",
        "2024-01-01T00:01:00Z,10,11,9,10.5,1",
        "2024-01-01T00:03:00Z,ten,11,9,10.5,1",
        "not a time,10,11,9,10.5,1",
        "2024-01-01T00:00:00Z,12,13,11,12.5,1",
    ])  # fmt: skip
    bars, rejects = ingest_bars(tmp_path)
    assert list(bars.timestamp.dt.minute) == [0, 1, 2]  # sorted; first of the duplicates kept
    assert bars.open.iloc[0] == 10
    assert {(r.item, r.reason) for r in rejects} == {
        ("bars.csv:5", "missing or non-numeric open"),
        ("bars.csv:6", "unparseable timestamp"),
        ("bars.csv:7", "duplicate timestamp 2024-01-01T00:00:00+00:00"),
    }


def test_a_row_with_extra_fields_is_quarantined_and_later_line_numbers_stay_right(tmp_path):
    """Regression (review of issue 3): such rows were skipped silently and shifted every later line number."""
    _write_csv(tmp_path / "bars.csv", [
        "2024-01-01T00:00:00Z,10,11,9,10.5,1",
        "2024-01-01T00:01:00Z,10,11,9,10.5,1,surprise",
        "",
        "2024-01-01T00:01:00Z,10,11,9,10.5,1",
        "2024-01-01T00:02:00Z,x,11,9,10.5,1",
    ])  # fmt: skip
    bars, rejects = ingest_bars(tmp_path)
    assert len(bars) == 2
    assert {(r.item, r.reason) for r in rejects} == {
        ("bars.csv:3", "malformed row: 7 fields, expected 6"),
        ("bars.csv:6", "missing or non-numeric open"),
    }


def test_unparseable_files_are_rejected_by_name(tmp_path):
    (tmp_path / "quotes.csv").write_text('timestamp,open,high,low,close,volume\n"2024-01-01,1,1,1,1,1\n')
    with zipfile.ZipFile(tmp_path / "20240102_trade.zip", "w") as zf:
        zf.writestr("20240102_trade.csv", b"\xff\xfe\x00garbage")
    pd.DataFrame({"timestamp": [1]}).to_parquet(tmp_path / "store.parquet")  # columns missing
    bars, rejects = ingest_bars(tmp_path)
    reasons = {r.item: r.reason for r in rejects}
    assert set(reasons) == {"quotes.csv", "20240102_trade.zip", "store.parquet"}, reasons
    assert reasons["store.parquet"].startswith("store.parquet: unreadable (KeyError")
    assert len(bars) == 0


def test_empty_file_and_corrupt_zip_are_rejected_and_the_rest_is_read(tmp_path):
    shutil.copy(shared("exchange", "20170903_trade.zip"), tmp_path)
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "20170904_trade.zip").write_bytes(shared("exchange", "20170904_trade.zip").read_bytes()[:5000])
    bars, rejects = ingest_bars(tmp_path)
    assert len(bars) == 1440
    reasons = dict((r.item, r.reason) for r in rejects)
    assert reasons["empty.csv"] == "empty.csv: empty file"
    assert reasons["20170904_trade.zip"].startswith("20170904_trade.zip: corrupt zip")


def test_epoch_milliseconds_and_seconds_are_both_understood(tmp_path):
    _write_csv(tmp_path / "ms.csv", ["1704067200000,1,1,1,1,0"])
    _write_csv(tmp_path / "s.csv", ["1704067200,1,1,1,1,0"])
    for name in ("ms.csv", "s.csv"):
        bars, _ = read_bar_file(tmp_path / name)
        assert bars.timestamp.iloc[0] == pd.Timestamp("2024-01-01T00:00:00Z")


def test_lean_zip_without_csv_is_a_clear_error(tmp_path):
    with zipfile.ZipFile(tmp_path / "20240101_trade.zip", "w") as zf:
        zf.writestr("readme.txt", "nothing")
    _, rejects = ingest_bars(tmp_path)
    assert rejects[0].reason == "20240101_trade.zip: zip holds no CSV file"


def test_missing_source_directory_raises(tmp_path):
    from pipelines.errors import IngestError

    with pytest.raises(IngestError, match="bar source directory not found"):
        ingest_bars(tmp_path / "nowhere")
