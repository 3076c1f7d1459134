"""The Coinbase candles client against a local server that serves the real bars of ../shared/data/exchange in
the API's JSON shape (newest first, at most 300 a request), with injected 429s, 500s, a timeout, a truncated
response and an empty page."""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.parse

import pandas as pd
import pytest

from pipelines.errors import IngestError
from pipelines.exchange.bars import ingest_bars
from pipelines.exchange.candles import CandlesApiConfig, store_path, update_store
from tests.conftest import shared


@pytest.fixture(scope="module")
def real_bars():
    bars, _ = ingest_bars(shared("exchange"))
    return bars


class CandlesHandler(http.server.BaseHTTPRequestHandler):
    bars: pd.DataFrame
    faults: list[str] = []  # consumed one per request: "429", "500", "timeout", "truncated", "empty", "ok"
    retry_after = "0"  # the Retry-After header of a 429
    requests: list[dict] = []

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        self.requests.append(query)
        fault = self.faults.pop(0) if self.faults else "ok"
        if url.path != "/products/BTC-USD/candles":
            return self._send(404, {"message": "NotFound"})
        if fault == "429":
            return self._send(429, {"message": "Public rate limit exceeded"}, {"Retry-After": self.retry_after})
        if fault == "500":
            return self._send(500, {"message": "Internal server error"})
        if fault == "timeout":
            time.sleep(0.5)  # longer than the client's timeout
        start, end = pd.Timestamp(query["start"]), pd.Timestamp(query["end"])
        if (end - start) / pd.Timedelta(seconds=int(query["granularity"])) + 1 > 300:
            return self._send(400, {"message": "granularity too small for the requested time range"})
        page = self.bars[(self.bars.timestamp >= start) & (self.bars.timestamp <= end)].iloc[::-1]
        rows = [[int(r.timestamp.timestamp()), r.low, r.high, r.open, r.close, r.volume] for r in page.itertuples()]
        if fault == "empty":
            rows = []
        body = json.dumps(rows)
        if fault == "truncated":
            body = body[: len(body) // 2]
        self._send(200, body)

    def _send(self, status, payload, headers=None):
        body = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        try:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout)

    def log_message(self, *args):
        pass


@pytest.fixture
def api(real_bars):
    CandlesHandler.bars, CandlesHandler.faults, CandlesHandler.requests = real_bars, [], []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CandlesHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def config(url, **kw) -> CandlesApiConfig:
    base = {"base_url": url, "start": "2017-09-03T00:00:00Z", "end": "2017-09-05T00:00:00Z", "min_interval_s": 0.0,
            "backoff_s": 0.01, "timeout_s": 0.2}  # fmt: skip
    return CandlesApiConfig(**{**base, **kw})


def test_pages_over_two_days_and_stores_every_bar_once(api, tmp_path, real_bars):
    path = update_store(tmp_path, config(api))
    stored = pd.read_parquet(path)
    assert len(CandlesHandler.requests) == 10  # 2880 minutes / 300 per request
    pd.testing.assert_frame_equal(stored[["timestamp", "open", "high", "low", "close", "volume"]],
                                  real_bars[["timestamp", "open", "high", "low", "close", "volume"]])  # fmt: skip


def test_transient_faults_are_retried_and_nothing_is_lost_or_doubled(api, tmp_path, real_bars):
    CandlesHandler.faults = ["429", "500", "timeout", "truncated", "ok", "429"]
    stored = pd.read_parquet(update_store(tmp_path, config(api)))
    assert len(stored) == len(real_bars) and stored.timestamp.is_unique
    assert len(CandlesHandler.requests) == 10 + 5  # five failed attempts retried


def test_rerun_resumes_after_the_last_stored_bar(api, tmp_path, real_bars):
    update_store(tmp_path, config(api, end="2017-09-04T00:00:00Z"))
    CandlesHandler.requests.clear()
    stored = pd.read_parquet(update_store(tmp_path, config(api)))
    assert CandlesHandler.requests[0]["start"].startswith("2017-09-04T00:00:00")
    assert len(stored) == len(real_bars) and stored.timestamp.is_unique
    CandlesHandler.requests.clear()
    update_store(tmp_path, config(api))  # nothing left to fetch
    assert CandlesHandler.requests == []


def test_an_empty_page_is_a_gap_not_an_error(api, tmp_path, real_bars):
    CandlesHandler.faults = ["ok", "empty"]
    stored = pd.read_parquet(update_store(tmp_path, config(api)))
    assert len(stored) == len(real_bars) - 300


def test_non_transient_4xx_is_a_clear_error_without_retries(api, tmp_path):
    with pytest.raises(IngestError, match=r"products/BTC-EUR/candles .*HTTP 404 .*NotFound.*not retried"):
        update_store(tmp_path, config(api, product="BTC-EUR"))
    assert len(CandlesHandler.requests) == 1
    assert not store_path(tmp_path, config(api, product="BTC-EUR")).exists()  # nothing half-written


def test_start_and_end_off_the_minute_are_aligned_so_no_bar_falls_between_pages(api, tmp_path, real_bars):
    """Review finding: a start at :30 lost the bar at each page edge; an end at :30 sent a backwards request."""
    stored = pd.read_parquet(update_store(tmp_path, config(api, start="2017-09-03T00:00:30Z",
                                                           end="2017-09-03T10:00:30Z")))  # fmt: skip
    expected = real_bars[(real_bars.timestamp >= "2017-09-03T00:01:00Z") & (real_bars.timestamp < "2017-09-03T10:00Z")]
    assert list(stored.timestamp) == list(expected.timestamp)
    assert all(pd.Timestamp(r["start"]) <= pd.Timestamp(r["end"]) for r in CandlesHandler.requests)


def test_only_complete_bars_are_stored(api, tmp_path):
    now = pd.Timestamp("2017-09-03T05:00:40Z")  # the 05:00 bar is still forming
    stored = pd.read_parquet(update_store(tmp_path, config(api, end=""), now=now))
    assert stored.timestamp.max() == pd.Timestamp("2017-09-03T04:59:00Z")


def test_an_absurd_retry_after_is_an_error_not_a_day_long_sleep(api, tmp_path, monkeypatch):
    CandlesHandler.faults = ["429"]
    monkeypatch.setattr(CandlesHandler, "retry_after", "86400")
    with pytest.raises(IngestError, match="asks to wait 86400 s"):
        update_store(tmp_path, config(api))


def test_persistent_failure_gives_up_with_the_reason(api, tmp_path):
    CandlesHandler.faults = ["500"] * 3
    with pytest.raises(IngestError, match="HTTP 500; gave up after 3 attempts"):
        update_store(tmp_path, config(api, retries=3))


def test_coinbase_source_feeds_the_ingest_stage(api, tmp_path):
    from pipelines import stages
    from pipelines.workspace import Workspace
    from tests.conftest import TINY, write_params

    coinbase = {"base_url": api, "start": "2017-09-03T00:00:00Z", "end": "2017-09-04T00:00:00Z", "min_interval_s": 0}
    ws = Workspace(tmp_path, write_params(tmp_path, {**TINY, "sources": {"btc": "coinbase"}, "coinbase": coinbase}))
    result = stages.ingest_btc(ws)
    assert result.counts == {"bars": 1440, "files": 1} and result.rejects == []
    assert stages.ingest_btc(ws).md5 == result.md5  # a re-run fetches nothing and stores the same table
