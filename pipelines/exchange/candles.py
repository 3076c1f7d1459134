"""Live client for the Coinbase Exchange candles REST API, and the local store it keeps up to date.

API (https://docs.cdp.coinbase.com/exchange/reference/exchangerestapi_getproductcandles):
`GET {base_url}/products/{product}/candles?granularity=60&start=ISO&end=ISO` returns at most 300 candles as
rows `[time, low, high, open, close, volume]` (time in epoch seconds), newest first; an empty list when nothing
traded. Public endpoints are rate limited (HTTP 429).

The client pages over [start, end) in windows of `max_per_request` bars, keeps at least `min_interval_s`
between requests, and retries with exponential back-off (honouring Retry-After) on 429, 5xx, timeouts, dropped
connections and truncated or malformed JSON (a row that is not six finite numbers with an integer time counts
as malformed: JSON allows NaN and Infinity). Any other 4xx is not transient: it raises IngestError with the
URL, status and the server's message.

The store (`<dir>/<product>.parquet`) is one table of UTC bars; `update_store` resumes from its last bar, appends,
drops duplicate timestamps and replaces the file atomically, so re-running never stores a bar twice. It holds
an exclusive lock (`<product>.parquet.lock` beside the store) while it reads, fetches and writes, so a second
update of the same store waits and then finds it up to date.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines.errors import ConfigError, IngestError
from pipelines.exchange.bars import BAR_COLUMNS
from pipelines.storage import exclusive, write_parquet

log = logging.getLogger(__name__)

API_COLUMNS = ["time", "low", "high", "open", "close", "volume"]  # the order of each row the API returns
MAX_EPOCH_S = 1e11  # year 5138: a larger time is garbage, and would overflow pandas' nanosecond timestamps


@dataclass(frozen=True)
class CandlesApiConfig:
    base_url: str = "https://api.exchange.coinbase.com"
    product: str = "BTC-USD"
    granularity_s: int = 60
    start: str = "2024-01-01T00:00:00Z"  # first bar wanted when the store is empty
    end: str = ""  # exclusive; empty: now
    max_per_request: int = 300  # the API's limit
    min_interval_s: float = 0.34  # at most ~3 requests a second (public rate limit)
    retries: int = 6  # attempts per page on transient errors
    backoff_s: float = 1.0  # first wait; doubles each retry
    max_wait_s: float = 60.0  # a Retry-After asking for longer is an error, not a sleep
    timeout_s: float = 10.0

    def __post_init__(self):
        if self.retries < 1 or self.backoff_s < 0 or self.min_interval_s < 0 or self.granularity_s < 1:
            raise ConfigError("coinbase: retries and granularity_s must be >= 1; backoff_s, min_interval_s >= 0")
        if not 1 <= self.max_per_request <= 300:
            raise ConfigError(f"coinbase: max_per_request {self.max_per_request} outside the API's 1..300")


class TransientError(Exception):
    """A failure worth retrying (429, 5xx, timeout, truncated JSON)."""

    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _bad_row(row) -> str | None:
    """Why an API row is unusable (None when it is six finite numbers with an integer epoch time first)."""
    if not isinstance(row, list) or len(row) < 6:
        return "not a list of six values"
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in row[:6]):
        return "a value that is not a finite number"
    if not (float(row[0]).is_integer() and abs(row[0]) < MAX_EPOCH_S):
        return "a time that is not an integer epoch second"
    return None


def _retry_after_s(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), never negative; None when absent or
    unreadable (the client's own back-off applies then)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - pd.Timestamp.now(tz="UTC").to_pydatetime()).total_seconds())


class CandlesClient:
    def __init__(self, cfg: CandlesApiConfig, session=None):
        import requests

        self.cfg = cfg
        self.session = session or requests.Session()
        self._last_request = 0.0

    def _get(self, params: dict) -> list:
        import requests

        url = f"{self.cfg.base_url.rstrip('/')}/products/{self.cfg.product}/candles"
        wait = self.cfg.min_interval_s - (time.monotonic() - self._last_request)
        if wait > 0:
            time.sleep(wait)
        self._last_request = time.monotonic()
        try:
            resp = self.session.get(url, params=params, timeout=self.cfg.timeout_s)
        except (requests.Timeout, requests.ConnectionError) as e:
            raise TransientError(f"{url}: {type(e).__name__}") from e
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TransientError(f"{url}: HTTP {resp.status_code}", _retry_after_s(resp.headers.get("Retry-After")))
        if resp.status_code >= 400:
            raise IngestError(f"{url} {params}: HTTP {resp.status_code} {resp.text[:300]!r} (not retried)")
        try:
            rows = json.loads(resp.text)
        except json.JSONDecodeError as e:
            raise TransientError(f"{url}: truncated or malformed JSON ({e})") from e
        if not isinstance(rows, list):
            raise TransientError(f"{url}: unexpected payload shape {str(rows)[:120]!r}")
        for row in rows:
            reason = _bad_row(row)
            if reason:
                raise TransientError(f"{url}: malformed row {str(row)[:120]!r} ({reason})")
        return rows

    def page(self, start: pd.Timestamp, end: pd.Timestamp) -> list:
        """Rows for [start, end] (at most max_per_request bars), retrying transient failures."""
        params = {"granularity": self.cfg.granularity_s, "start": start.isoformat(), "end": end.isoformat()}
        for attempt in range(1, self.cfg.retries + 1):
            try:
                return self._get(params)
            except TransientError as e:
                if attempt == self.cfg.retries:
                    raise IngestError(f"{e}; gave up after {attempt} attempts") from e
                delay = e.retry_after_s if e.retry_after_s is not None else self.cfg.backoff_s * 2 ** (attempt - 1)
                if delay > self.cfg.max_wait_s:
                    msg = f"{e}; the server asks to wait {delay:.0f} s (more than {self.cfg.max_wait_s:g})"
                    raise IngestError(msg) from e
                log.warning("%s; retry %d/%d in %.2f s", e, attempt, self.cfg.retries - 1, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def fetch(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Bars (BAR_COLUMNS + source) with start <= timestamp < end, ascending, unique."""
        step = pd.Timedelta(seconds=self.cfg.granularity_s)
        span = step * self.cfg.max_per_request
        frames, t0, n_pages = [], time.perf_counter(), 0
        page_start = start
        while page_start < end:
            page_end = min(page_start + span, end) - step  # the API's end is inclusive
            rows = self.page(page_start, page_end)
            n_pages += 1
            if rows:
                frames.append(pd.DataFrame(rows).iloc[:, :6].set_axis(API_COLUMNS, axis=1))
            page_start = page_end + step
            if n_pages % 50 == 0:
                done = (page_start - start) / (end - start)
                log.info("candles: %d pages, %.0f%% of the range, %.1f pages/s", n_pages, 100 * done,
                         n_pages / (time.perf_counter() - t0))  # fmt: skip
        if not frames:
            return _empty_bars()
        raw = pd.concat(frames, ignore_index=True)
        bars = raw.assign(timestamp=pd.to_datetime(raw["time"], unit="s", utc=True))[BAR_COLUMNS].astype(
            {c: "float64" for c in BAR_COLUMNS[1:]}
        )
        bars = bars[(bars.timestamp >= start) & (bars.timestamp < end)]
        bars = bars.sort_values("timestamp").drop_duplicates("timestamp").reset_index(drop=True)
        log.info("candles: %d bars in %d pages from %s to %s", len(bars), n_pages, start, end)
        return bars.assign(source=f"coinbase:{self.cfg.product}")


def _empty_bars() -> pd.DataFrame:
    columns = {"timestamp": pd.Series(dtype="datetime64[ns, UTC]")}
    columns |= {c: pd.Series(dtype="float64") for c in BAR_COLUMNS[1:]}
    return pd.DataFrame(columns).assign(source=pd.Series(dtype="str"))


def store_path(store_dir: str | Path, cfg: CandlesApiConfig) -> Path:
    return Path(store_dir) / f"{cfg.product}.parquet"


def update_store(store_dir: str | Path, cfg: CandlesApiConfig, session=None, now: pd.Timestamp | None = None) -> Path:
    """Fetch the bars after the store's last one (or from cfg.start) up to cfg.end (or now) and append them.
    Holds the store's lock throughout, so two updates of one store run one after the other."""
    path = store_path(store_dir, cfg)
    step = pd.Timedelta(seconds=cfg.granularity_s)
    try:
        start = pd.Timestamp(cfg.start)
        end = pd.Timestamp(cfg.end) if cfg.end else None
    except ValueError as e:
        raise ConfigError(f"coinbase: start {cfg.start!r} or end {cfg.end!r} is not a date-time ({e})") from e
    if start.tz is None or (end is not None and end.tz is None):
        raise ConfigError(f"coinbase: start {cfg.start!r} and end {cfg.end!r} must carry a time zone (use Z for UTC)")
    # only complete bars: the bar of the current minute is still forming and would never be corrected
    last_complete = (now or pd.Timestamp.now(tz="UTC")).floor(step)
    end = min(end, last_complete) if end is not None else last_complete
    start, end = start.ceil(step), end.floor(step)  # pages on bar boundaries, or bars fall between pages
    with exclusive(path.with_name(f"{path.name}.lock"), f"candle store {path}"):
        # read under the lock: an update that held it before may have appended what this one would fetch
        stored = pd.read_parquet(path) if path.is_file() else None
        if stored is not None and len(stored):
            start = max(start, stored.timestamp.max() + step)
        if start >= end:
            log.info("candle store %s is up to date (next bar %s not complete yet)", path, start)
            return path
        new = CandlesClient(cfg, session).fetch(start, end)
        merged = new if stored is None else pd.concat([stored, new], ignore_index=True)
        merged = merged.sort_values("timestamp").drop_duplicates("timestamp", keep="first").reset_index(drop=True)
        write_parquet(path, merged)
    log.info("candle store %s: %d new bars, %d in all", path, len(new), len(merged))
    return path
