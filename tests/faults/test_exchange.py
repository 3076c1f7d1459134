"""Exchange-side fault cases (issue 9): each test injects one fault into real BTC/USD data or into the candles
API, checks its expected outcome (a reject naming the file, line or bar and the reason; an error naming the URL
and the reason; the retries the test server saw; a resume), then the harness's after-checks: every output is
complete and no temporary file is left (assert_intact), what was stored before is still there unchanged
(assert_kept, assert_bars_kept), no bar is stored twice (assert_unique), and a re-run without the fault
completes with the data it should.

File faults arrive in an inbox folder (`sources.btc`) that already holds the real bars of 2017-09-03, ingested
and validated: the 2017-09-04 file comes in damaged, and the re-run receives the real one. API faults hit an
update of a candle store that already holds 2017-09-03, served by a local HTTP server (the handler of
tests/exchange/test_candles.py, extended)."""

from __future__ import annotations

import http.server
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines import stages
from pipelines.errors import IngestError
from pipelines.exchange.bars import BAR_COLUMNS, MAX_CSV_BYTES, PRICE_COLUMNS, ingest_bars
from pipelines.exchange.candles import CandlesApiConfig, store_path, update_store
from pipelines.versioning import file_md5
from pipelines.workspace import Workspace
from tests.conftest import TINY, shared, write_params
from tests.exchange.test_candles import CandlesHandler
from tests.faults.harness import (
    REPO,
    DataLost,
    assert_intact,
    assert_kept,
    assert_unique,
    run_killed,
    snapshot,
)

DAY1, DAY2 = "20170903_trade.zip", "20170904_trade.zip"
MEMBER = "20170904_btcusd_minute_trade.csv"  # the CSV inside the real DAY2 zip


@pytest.fixture(scope="module")
def real_bars():
    """The two real days as an uninterrupted ingest reads them (the hourly file in that folder is rejected)."""
    bars, _ = ingest_bars(shared("exchange"))
    return bars


def assert_bars_kept(before: pd.DataFrame, after: pd.DataFrame, what: str) -> None:
    """Every bar of `before` is in `after` (unique timestamps) with the same prices and volume."""
    after = after.set_index("timestamp")
    missing = before.timestamp[~before.timestamp.isin(after.index)]
    if len(missing):
        raise DataLost(f"{what}: {len(missing)} stored bar(s) lost, first {missing.iloc[0].isoformat()}")
    same = after.loc[before.timestamp, PRICE_COLUMNS].to_numpy() == before[PRICE_COLUMNS].to_numpy()
    if not same.all():
        raise DataLost(f"{what}: {int((~same.all(axis=1)).sum())} stored bar(s) changed")


# --- file faults: the 2017-09-04 file arrives damaged in an inbox ------------------------------------------


def day2_lines() -> list[str]:
    with zipfile.ZipFile(shared("exchange", DAY2)) as zf:
        return zf.read(MEMBER).decode().splitlines()


def lean_zip(lines: list[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MEMBER, "\n".join(lines) + "\n")
    return buf.getvalue()


def edit(lines: list[str], line: int, field: int, value: str) -> list[str]:
    """`lines` with field `field` (0: ms, 1-5: open, high, low, close, volume) of 1-based `line` set to `value`."""
    fields = lines[line - 1].split(",")
    fields[field] = value
    return [*lines[: line - 1], ",".join(fields), *lines[line:]]


@dataclass
class Inbox:
    ws: Workspace  # reads its bars from `folder`
    folder: Path
    before: pd.DataFrame  # the validated bars before the fault
    files_before: dict[str, str]  # snapshot of the folder before the fault


@pytest.fixture
def inbox(tmp_path) -> Inbox:
    """An inbox where the real 2017-09-03 file has been ingested and validated."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / DAY1).write_bytes(shared("exchange", DAY1).read_bytes())
    ws = Workspace(tmp_path, write_params(tmp_path, {**TINY, "sources": {"btc": str(folder)}}))
    stages.ingest_btc(ws)
    stages.validate_btc(ws)
    before = pd.read_parquet(ws.btc_bars_validated)
    assert len(before) == 1440
    return Inbox(ws, folder, before, snapshot(folder))


def deliver(box: Inbox, files: dict[str, bytes]):
    """Put `files` into the inbox and run ingest and validation: (ingest result, validation result)."""
    for name, data in files.items():
        (box.folder / name).write_bytes(data)
    return stages.ingest_btc(box.ws), stages.validate_btc(box.ws)


def quarantined(box: Inbox, stage: str) -> set[tuple[str, str]]:
    table = pd.read_csv(box.ws.quarantine(stage), dtype=str, keep_default_na=False)
    return set(zip(table["item"], table["reason"], strict=True))


def after_file_fault(box: Inbox, real_bars, faulty: tuple[str, ...]) -> None:
    """The after-checks, then the re-run without the fault: the faulty files go, the real DAY2 comes."""
    ws = box.ws
    assert_intact(ws.data)
    assert_kept(box.files_before, snapshot(box.folder))  # the day already there is untouched
    stored = pd.read_parquet(ws.btc_bars_validated)
    assert_unique(stored, "timestamp", "validated bars")
    assert_unique(pd.read_parquet(ws.btc_bars), "timestamp", "ingested bars")
    assert_bars_kept(box.before, stored, "validated bars")
    assert np.isfinite(stored[PRICE_COLUMNS].to_numpy()).all()

    for name in faulty:
        (box.folder / name).unlink()
    ingest, validation = deliver(box, {DAY2: shared("exchange", DAY2).read_bytes()})
    assert ingest.rejects == [] and validation.rejects == [] and validation.passed
    rerun = pd.read_parquet(ws.btc_bars_validated)
    pd.testing.assert_frame_equal(rerun[[*BAR_COLUMNS, "source"]], real_bars[[*BAR_COLUMNS, "source"]])
    assert_intact(ws.data)


@pytest.mark.fault("exchange")
def test_malformed_rows_are_quarantined_by_file_and_line(inbox, real_bars):
    lines = day2_lines()
    lines[10] += ",1"  # line 11: a field too many
    lines[20] = lines[20].rsplit(",", 1)[0]  # line 21: a field too few
    ingest, validation = deliver(inbox, {DAY2: lean_zip(lines)})
    expected = {(f"{DAY2}:11", "malformed row: 7 fields, expected 6"),
                (f"{DAY2}:21", "malformed row: 5 fields, expected 6")}  # fmt: skip
    assert {(r.item, r.reason) for r in ingest.rejects} == expected == quarantined(inbox, "btc_ingest")
    assert ingest.counts["bars"] == 2880 - 2 and validation.passed
    after_file_fault(inbox, real_bars, (DAY2,))


@pytest.mark.fault("exchange")
def test_a_file_of_another_layout_is_one_entry_not_one_per_row(inbox, real_bars):
    lines = [line + ",0" for line in day2_lines()]  # every row has 7 columns: another export's format
    ingest, validation = deliver(inbox, {DAY2: lean_zip(lines)})
    [reject] = ingest.rejects
    assert reject.item == DAY2 and "1440 rows have 7 fields" in reject.reason and "should have 6" in reject.reason
    assert quarantined(inbox, "btc_ingest") == {(reject.item, reject.reason)} and validation.passed
    after_file_fault(inbox, real_bars, (DAY2,))


@pytest.mark.fault("exchange")
def test_an_empty_file_is_quarantined_whole_and_nothing_else_changes(inbox, real_bars):
    ingest, _ = deliver(inbox, {"20170904.csv": b""})
    assert [(r.item, r.reason) for r in ingest.rejects] == [("20170904.csv", "20170904.csv: empty file")]
    assert ingest.counts["bars"] == 1440
    after_file_fault(inbox, real_bars, ("20170904.csv",))


@pytest.mark.fault("exchange")
def test_duplicated_rows_keep_the_first_and_quarantine_the_repeats(inbox, real_bars):
    lines = day2_lines()
    ingest, _ = deliver(inbox, {DAY2: lean_zip([*lines, *lines[:3]])})  # lines 1441-1443 repeat 1-3
    assert {(r.item, r.reason) for r in ingest.rejects} == {
        (f"{DAY2}:{1441 + m}", f"duplicate timestamp 2017-09-04T00:0{m}:00+00:00") for m in range(3)
    }
    assert ingest.counts["bars"] == 2880
    after_file_fault(inbox, real_bars, (DAY2,))


@pytest.mark.fault("exchange")
def test_out_of_order_rows_are_sorted_and_all_kept(inbox, real_bars):
    lines = day2_lines()
    shuffled = [lines[i] for i in np.random.default_rng(0).permutation(len(lines))]
    ingest, validation = deliver(inbox, {DAY2: lean_zip(shuffled)})
    assert ingest.rejects == [] and validation.rejects == []
    stored = pd.read_parquet(inbox.ws.btc_bars_validated)
    pd.testing.assert_frame_equal(stored[BAR_COLUMNS], real_bars[BAR_COLUMNS])
    after_file_fault(inbox, real_bars, (DAY2,))


ABSURD = {  # line 100 of 2017-09-04 is 5940000,4570.01,4570.01,4568.82,4569.29,5.12706156 (01:39)
    "negative price": ((4, "-4569.29"), "close outside 1-1e+07 USD; close below low"),
    "high below low": ((2, "4500.0"), "high below low; high below open; high below close"),
    "price far outside the range": ((1, "45700100.0"), "open outside 1-1e+07 USD; high below open"),
    "negative volume": ((5, "-5.12706156"), "negative volume"),
}


@pytest.mark.fault("exchange")
@pytest.mark.parametrize("fault", sorted(ABSURD))
def test_absurd_values_are_quarantined_by_validation_with_every_reason(inbox, real_bars, fault):
    (field, value), reason = ABSURD[fault]
    ingest, validation = deliver(inbox, {DAY2: lean_zip(edit(day2_lines(), 100, field, value))})
    assert ingest.rejects == [] and ingest.counts["bars"] == 2880  # numbers: ingest keeps them
    item = f"{DAY2}@2017-09-04T01:39:00+00:00"
    assert [(r.item, r.reason) for r in validation.rejects] == [(item, reason)]
    assert quarantined(inbox, "btc_validation") == {(item, reason)}
    assert validation.counts == {"bars_in": 2880, "bars_valid": 2879, "quarantined": 1} and validation.passed
    after_file_fault(inbox, real_bars, (DAY2,))


@pytest.mark.fault("exchange")
def test_nan_and_infinite_values_never_reach_the_stored_bars(inbox, real_bars):
    lines = edit(edit(edit(day2_lines(), 31, 4, "nan"), 41, 5, "inf"), 51, 2, "-Infinity")
    ingest, _ = deliver(inbox, {DAY2: lean_zip(lines)})
    assert {(r.item, r.reason) for r in ingest.rejects} == {
        (f"{DAY2}:31", "missing or non-numeric close"),
        (f"{DAY2}:41", "infinite volume"),
        (f"{DAY2}:51", "infinite high"),
    }
    assert np.isfinite(pd.read_parquet(inbox.ws.btc_bars)[PRICE_COLUMNS].to_numpy()).all()
    assert ingest.counts["bars"] == 2880 - 3
    after_file_fault(inbox, real_bars, (DAY2,))


@pytest.mark.fault("exchange")
def test_a_corrupt_zip_is_quarantined_whole_with_the_reason(inbox, real_bars):
    data = bytearray(shared("exchange", DAY2).read_bytes())
    data[2000:2016] = bytes(b ^ 0xFF for b in data[2000:2016])  # damage inside the deflate stream
    ingest, _ = deliver(inbox, {DAY2: bytes(data)})
    [reject] = ingest.rejects
    assert reject.item == DAY2 and reject.reason.startswith(f"{DAY2}: corrupt zip (Error -3 while decompressing")
    assert ingest.counts["bars"] == 1440
    after_file_fault(inbox, real_bars, (DAY2,))


@pytest.mark.fault("exchange")
def test_a_truncated_zip_is_quarantined_whole_with_the_reason(inbox, real_bars):
    ingest, _ = deliver(inbox, {DAY2: shared("exchange", DAY2).read_bytes()[:5000]})
    assert [(r.item, r.reason) for r in ingest.rejects] == [(DAY2, f"{DAY2}: corrupt zip (File is not a zip file)")]
    assert ingest.counts["bars"] == 1440
    after_file_fault(inbox, real_bars, (DAY2,))


@pytest.mark.fault("exchange")
def test_a_zip_bomb_is_quarantined_without_unpacking_it(inbox, real_bars):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MEMBER, b"0" * (MAX_CSV_BYTES + 1))  # 64 MiB of zeros deflate to ~65 kB
    ingest, _ = deliver(inbox, {DAY2: buf.getvalue()})
    expected = f"{DAY2}: {MEMBER} unpacks to {MAX_CSV_BYTES + 1} bytes, more than {MAX_CSV_BYTES} (not a day of"
    [reject] = ingest.rejects
    assert reject.item == DAY2 and reject.reason.startswith(expected)
    after_file_fault(inbox, real_bars, (DAY2,))


@pytest.mark.fault("exchange")
def test_a_lean_row_timed_past_its_day_is_quarantined_not_moved_into_the_next(inbox, real_bars):
    """Lean times are milliseconds since the file's midnight: 86400000 would be the next day's first bar."""
    lines = [*day2_lines(), "86400000,4477.5,4499.04,4477.5,4498.25,1.0", "-60000,4477.5,4499.04,4477.5,4498.25,1.0"]
    ingest, _ = deliver(inbox, {DAY2: lean_zip(lines)})
    assert {(r.item, r.reason) for r in ingest.rejects} == {
        (f"{DAY2}:1441", "time outside the file's UTC day 20170904"),
        (f"{DAY2}:1442", "time outside the file's UTC day 20170904"),
    }
    assert pd.read_parquet(inbox.ws.btc_bars).timestamp.max() == pd.Timestamp("2017-09-04T23:59:00Z")
    after_file_fault(inbox, real_bars, (DAY2,))


@pytest.mark.fault("exchange")
def test_a_file_with_the_wrong_bar_interval_is_quarantined_whole(inbox, real_bars):
    hourly = "Coinbase_BTCUSD_1h.csv"
    ingest, _ = deliver(inbox, {hourly: shared("exchange", hourly).read_bytes()})
    assert [(r.item, r.reason) for r in ingest.rejects] == [(hourly, "bars every 3600 s, expected 60 s")]
    assert ingest.counts == {"bars": 1440, "files": 1}
    after_file_fault(inbox, real_bars, (hourly,))


@pytest.mark.fault("exchange")
def test_a_day_delivered_twice_is_stored_once(inbox, real_bars):
    """The 2017-09-03 bars arrive again as a CSV export beside the new day: each repeat is quarantined."""
    day1 = real_bars[real_bars.timestamp < "2017-09-04"]
    export = day1[BAR_COLUMNS].assign(timestamp=day1.timestamp.dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    resent = "resent_20170903.csv"
    ingest, _ = deliver(inbox, {DAY2: shared("exchange", DAY2).read_bytes(),
                                   resent: export.to_csv(index=False).encode()})  # fmt: skip
    assert len(ingest.rejects) == 1440
    assert {r.reason for r in ingest.rejects} == {"timestamp already read from another file"}
    assert ingest.rejects[0].item == f"{resent}@2017-09-03T00:00:00+00:00"
    stored = pd.read_parquet(inbox.ws.btc_bars_validated)
    assert len(stored) == 2880 and set(stored.source) == {DAY1, DAY2}
    after_file_fault(inbox, real_bars, (resent,))


# --- API faults: an update of a candle store that holds 2017-09-03 -------------------------------------------


class FaultyCandles(CandlesHandler):
    """The candles API of tests/exchange/test_candles.py plus the faults it lacks: "503", "403", "slow" (answers
    after slow_s), "nonfinite" (a NaN and an Infinity in the page); and a gate every request waits on."""

    slow_s = 1.5
    gate: threading.Event | None = None
    arrived: threading.Event

    def do_GET(self):
        self.arrived.set()
        if self.gate is not None:
            self.gate.wait(timeout=60)
        fault = self.faults[0] if self.faults else "ok"
        if fault not in ("503", "403", "slow", "nonfinite"):
            return super().do_GET()
        self.faults.pop(0)
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(self.path).query))
        self.requests.append(query)
        if fault == "503":
            return self._send(503, {"message": "Service Unavailable"})
        if fault == "403":
            return self._send(403, {"message": "Forbidden"})
        if fault == "slow":
            time.sleep(self.slow_s)
            return self._send(200, [])
        page = self.bars[(self.bars.timestamp >= query["start"]) & (self.bars.timestamp <= query["end"])].iloc[::-1]
        rows = [[int(r.timestamp.timestamp()), r.low, r.high, r.open, r.close, r.volume] for r in page.itertuples()]
        rows[0][4], rows[1][5] = float("nan"), float("inf")  # json.dumps writes NaN and Infinity
        self._send(200, json.dumps(rows))


@pytest.fixture
def api(real_bars):
    FaultyCandles.bars, FaultyCandles.faults, FaultyCandles.requests = real_bars, [], []
    FaultyCandles.retry_after, FaultyCandles.gate, FaultyCandles.arrived = "0", None, threading.Event()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FaultyCandles)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    FaultyCandles.gate = None
    httpd.shutdown()


def api_config(url: str, **kw) -> dict:
    return {"base_url": url, "start": "2017-09-03T00:00:00Z", "end": "2017-09-05T00:00:00Z", "min_interval_s": 0.0,
            "backoff_s": 0.01, "timeout_s": 0.5, "retries": 3, **kw}  # fmt: skip


def config(url: str, **kw) -> CandlesApiConfig:
    return CandlesApiConfig(**api_config(url, **kw))


PAGES_DAY2 = 5  # 1440 bars in pages of 300


@pytest.fixture
def store(api, tmp_path):
    """A candle store holding 2017-09-03; `.before` its bars and `.snapshot` its files."""
    directory = tmp_path / "store"
    update_store(directory, config(api, end="2017-09-04T00:00:00Z"))
    FaultyCandles.requests.clear()
    return directory


def after_api_fault(directory, api, real_bars, before: dict, unchanged: bool) -> None:
    """After-checks, then a re-run without the fault: the store then holds both days, each bar once."""
    assert_intact(directory)
    if unchanged:
        assert_kept(before, snapshot(directory))
    stored = pd.read_parquet(store_path(directory, config(api)))
    assert_unique(stored, "timestamp", "candle store")
    assert_bars_kept(real_bars[real_bars.timestamp < "2017-09-04"], stored, "candle store")
    assert np.isfinite(stored[PRICE_COLUMNS].to_numpy()).all()

    FaultyCandles.faults.clear()
    rerun = pd.read_parquet(update_store(directory, config(api)))
    pd.testing.assert_frame_equal(rerun[BAR_COLUMNS], real_bars[BAR_COLUMNS])
    assert_intact(directory)


def fetch_day2(directory, api, **kw) -> None:
    """Update the store to 2017-09-05."""
    update_store(directory, config(api, **kw))


@pytest.mark.fault("exchange")
def test_429_with_retry_after_waits_as_asked_then_completes(store, api, real_bars, caplog):
    FaultyCandles.faults, FaultyCandles.retry_after = ["429"], "1"
    before = snapshot(store)
    fetch_day2(store, api)
    assert len(FaultyCandles.requests) == PAGES_DAY2 + 1  # the rate-limited page, asked again
    # the wait is the server's Retry-After, not the client's 0.01 s back-off
    assert f"{api}/products/BTC-USD/candles: HTTP 429; retry 1/2 in 1.00 s" in caplog.text
    assert FaultyCandles.requests[0] == FaultyCandles.requests[1]
    after_api_fault(store, api, real_bars, before, unchanged=False)


@pytest.mark.fault("exchange")
def test_server_errors_are_retried_with_the_reason_logged(store, api, real_bars, caplog):
    FaultyCandles.faults = ["503", "500"]
    before = snapshot(store)
    fetch_day2(store, api)
    assert len(FaultyCandles.requests) == PAGES_DAY2 + 2
    assert f"{api}/products/BTC-USD/candles: HTTP 503; retry 1/2" in caplog.text
    assert f"{api}/products/BTC-USD/candles: HTTP 500; retry 2/2" in caplog.text
    after_api_fault(store, api, real_bars, before, unchanged=False)


@pytest.mark.fault("exchange")
def test_a_response_slower_than_the_timeout_is_retried(store, api, real_bars, caplog):
    FaultyCandles.faults = ["ok", "slow"]
    before = snapshot(store)
    fetch_day2(store, api)
    assert len(FaultyCandles.requests) == PAGES_DAY2 + 1
    assert FaultyCandles.requests[1] == FaultyCandles.requests[2]  # the slow page, asked again
    assert f"{api}/products/BTC-USD/candles: ReadTimeout; retry 1/2" in caplog.text
    after_api_fault(store, api, real_bars, before, unchanged=False)


@pytest.mark.fault("exchange")
def test_truncated_json_is_retried(store, api, real_bars, caplog):
    FaultyCandles.faults = ["ok", "ok", "truncated"]
    before = snapshot(store)
    fetch_day2(store, api)
    assert len(FaultyCandles.requests) == PAGES_DAY2 + 1
    assert f"{api}/products/BTC-USD/candles: truncated or malformed JSON" in caplog.text
    after_api_fault(store, api, real_bars, before, unchanged=False)


@pytest.mark.fault("exchange")
def test_nan_and_infinity_in_the_payload_are_retried_never_stored(store, api, real_bars, caplog):
    FaultyCandles.faults = ["nonfinite"]
    before = snapshot(store)
    fetch_day2(store, api)
    assert len(FaultyCandles.requests) == PAGES_DAY2 + 1
    assert "(a value that is not a finite number); retry 1/2" in caplog.text
    after_api_fault(store, api, real_bars, before, unchanged=False)


@pytest.mark.fault("exchange")
def test_a_server_that_never_answers_ends_in_a_clear_error_and_the_store_is_unchanged(store, api, real_bars, caplog):
    silent = socket.socket()  # the kernel completes the handshake; nobody ever reads or answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    before = snapshot(store)
    try:
        with pytest.raises(
            IngestError, match=rf"^{re.escape(url)}/products/BTC-USD/candles: ReadTimeout; gave up after 3"
        ):
            update_store(store, config(url))
    finally:
        silent.close()
    # three timeouts, two short back-offs between them, then it stops
    assert caplog.text.count(f"{url}/products/BTC-USD/candles: ReadTimeout; retry ") == 2
    after_api_fault(store, api, real_bars, before, unchanged=True)


@pytest.mark.fault("exchange")
def test_a_non_transient_4xx_is_not_retried_and_the_store_is_unchanged(store, api, real_bars):
    FaultyCandles.faults = ["403"]
    before = snapshot(store)
    with pytest.raises(
        IngestError, match=rf"^{re.escape(api)}/products/BTC-USD/candles .*: HTTP 403 .*Forbidden.* \(not retried\)$"
    ):
        fetch_day2(store, api)
    assert len(FaultyCandles.requests) == 1
    after_api_fault(store, api, real_bars, before, unchanged=True)


@pytest.fixture
def coinbase_ws(api, tmp_path):
    """A workspace whose bars come from the candles API, its store holding 2017-09-03 (ingested)."""
    day1 = {**TINY, "sources": {"btc": "coinbase"}, "coinbase": api_config(api, end="2017-09-04T00:00:00Z")}
    ws = Workspace(tmp_path, write_params(tmp_path, day1))
    stages.ingest_btc(ws)
    write_params(tmp_path, {**day1, "coinbase": api_config(api)})  # the update to 2017-09-05 the tests run
    FaultyCandles.requests.clear()
    return ws


@pytest.mark.fault("exchange")
def test_a_kill_mid_update_keeps_the_previous_store_and_a_rerun_matches_an_uninterrupted_update(
    coinbase_ws, api, real_bars, tmp_path
):
    ws = coinbase_ws
    store_file = store_path(ws.data / "raw" / "coinbase", config(api))
    reference = tmp_path / "reference"  # the same update, uninterrupted, from the same store
    reference.mkdir()
    (reference / store_file.name).write_bytes(store_file.read_bytes())
    expected_md5 = file_md5(update_store(reference, config(api)))
    FaultyCandles.requests.clear()
    before = snapshot(ws.data)

    killed = run_killed("write", 1, ["btc-ingest"], cwd=ws.root, timeout=120)  # the store's write is the first
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert len(FaultyCandles.requests) == PAGES_DAY2  # it had fetched everything
    assert_kept(before, snapshot(ws.data))  # the previous store (and everything else) unchanged
    assert len(pd.read_parquet(store_file)) == 1440
    assert len(list(store_file.parent.glob(f".{store_file.name}.*.tmp"))) == 1  # the half-written file, hidden

    result = stages.ingest_btc(ws)  # the re-run: removes the dead writer's temporary, fetches again
    assert_intact(ws.data)
    assert file_md5(store_file) == expected_md5
    assert result.counts == {"bars": 2880, "files": 1} and result.rejects == []
    assert_unique(pd.read_parquet(ws.btc_bars), "timestamp", "ingested bars")
    pd.testing.assert_frame_equal(pd.read_parquet(store_file)[BAR_COLUMNS], real_bars[BAR_COLUMNS])


UPDATE = """import json, logging, sys
logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
from pipelines.exchange.candles import CandlesApiConfig, update_store
update_store(sys.argv[1], CandlesApiConfig(**json.loads(sys.argv[2])))
"""


@pytest.mark.fault("exchange")
def test_two_updates_of_one_store_at_once_run_one_after_the_other(store, api, real_bars, tmp_path):
    FaultyCandles.gate, FaultyCandles.arrived = threading.Event(), threading.Event()
    before = snapshot(store)
    # a timeout longer than the gate is shut, so the first update's held request is not retried meanwhile
    cmd = [sys.executable, "-c", UPDATE, str(store), json.dumps(api_config(api, timeout_s=60))]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    with logs[0].open("w") as err1, logs[1].open("w") as err2:
        first, second = subprocess.Popen(cmd, env=env, stderr=err1), None
        try:
            assert FaultyCandles.arrived.wait(60), "the first update never reached the server"  # it holds the lock
            second = subprocess.Popen(cmd, env=env, stderr=err2)
            deadline = time.monotonic() + 60
            while "waiting for" not in logs[1].read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "waiting for process" in logs[1].read_text(), logs[1].read_text()
        finally:
            FaultyCandles.gate.set()
            codes = [first.wait(120), second.wait(120) if second else None]
    assert codes == [0, 0], [log.read_text()[-2000:] for log in logs]
    assert len(FaultyCandles.requests) == PAGES_DAY2  # only the first fetched; the second found it done
    assert "new bars" in logs[0].read_text() and "is up to date" in logs[1].read_text()
    after_api_fault(store, api, real_bars, before, unchanged=False)
