"""Ingest of OHLCV bar files into one tidy table of UTC bars.

Formats read (chosen by file, so one source folder may mix them):
- QuantConnect Lean minute zips (`YYYYMMDD_trade.zip`): one headerless CSV per UTC day with
  milliseconds since midnight, open, high, low, close, volume;
- Parquet stores of the candles API client (pipelines.exchange.candles);
- generic OHLCV CSV with a header naming a time column (`timestamp`, `time`, `date`, `datetime` or `unix`)
  holding epoch seconds, epoch milliseconds or date-time text (ISO-8601, or CryptoDataDownload's
  `2019-10-17 09-AM`); a banner line above the header and newest-first order are handled.

Rows that cannot be used (unparseable time, non-numeric or infinite value, duplicate timestamp, a Lean time
outside the file's day) become `file:line` rejects with the reason; files that cannot be used at all (empty,
corrupt or oversized zip, wrong bar interval) become file rejects.
"""

from __future__ import annotations

import io
import logging
import lzma
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.errors import IngestError
from pipelines.quarantine import Reject

log = logging.getLogger(__name__)

BAR_COLUMNS = ["timestamp", "open", "high", "low", "close", "volume"]
PRICE_COLUMNS = ["open", "high", "low", "close", "volume"]
TIME_COLUMNS = ("timestamp", "time", "date", "datetime", "unix")
MAX_CSV_BYTES = 64 * 2**20  # a Lean minute file is ~70 kB; a larger member is a zip bomb, not a day of bars
DAY_MS = 86_400_000
# what zipfile raises on damaged or unsupported archives: a bad header or CRC (BadZipFile), damaged deflate,
# bzip2 or lzma data (zlib.error, OSError, LZMAError), a truncated stream (EOFError), an unknown compression
# method (NotImplementedError), an encrypted member (RuntimeError: password required)
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, NotImplementedError, RuntimeError)


def _well_formed(lines: list[str], first: int, n_fields: int, name: str) -> tuple[str, np.ndarray, list[Reject]]:
    """The data lines from index `first` that have exactly `n_fields` comma-separated fields (joined), their
    1-based line numbers, and a reject per malformed line; blank lines are skipped. A file in which no line has
    `n_fields` fields has another layout, not malformed rows: IngestError, one entry for the file."""
    keep, numbers, rejects, counts = [], [], [], set()
    for i in range(first, len(lines)):
        line = lines[i]
        if not line.strip():
            continue
        fields = line.count(",") + 1
        if fields != n_fields:
            rejects.append(Reject(f"{name}:{i + 1}", f"malformed row: {fields} fields, expected {n_fields}"))
            counts.add(fields)
            continue
        keep.append(line)
        numbers.append(i + 1)
    if rejects and not keep:
        found = ", ".join(str(c) for c in sorted(counts))
        raise IngestError(f"{name}: not this file format: its {len(rejects)} rows have {found} fields, every row of "
                          f"it should have {n_fields}")  # fmt: skip
    return "\n".join(keep), np.array(numbers, dtype=np.int64), rejects


def read_lean_zip(path: Path) -> tuple[pd.DataFrame, list[Reject]]:
    """Bars of one Lean minute zip, with a `line` column (1-based line in the CSV), and malformed-row rejects."""
    day = re.match(r"(\d{8})", path.name)
    if not day:
        raise IngestError(f"{path.name}: no YYYYMMDD date in the file name")
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if m.filename.endswith(".csv")]
            if not members:
                raise IngestError(f"{path.name}: zip holds no CSV file")
            if members[0].file_size > MAX_CSV_BYTES:
                raise IngestError(f"{path.name}: {members[0].filename} unpacks to {members[0].file_size} bytes, "
                                  f"more than {MAX_CSV_BYTES} (not a day of minute bars)")  # fmt: skip
            text = zf.read(members[0]).decode()
    except (*ZIP_ERRORS, UnicodeDecodeError) as e:
        raise IngestError(f"{path.name}: corrupt zip ({e})") from e
    if not text.strip():
        raise IngestError(f"{path.name}: empty file")
    body, lines, rejects = _well_formed(text.splitlines(), 0, 6, path.name)
    raw = pd.read_csv(io.StringIO(body), header=None, names=["ms", *PRICE_COLUMNS], dtype=str)
    ms = pd.to_numeric(raw["ms"], errors="coerce")
    outside = ((ms < 0) | (ms >= DAY_MS)).to_numpy()  # a time past midnight would fall into the next file's day
    rejects += [Reject(f"{path.name}:{n}", f"time outside the file's UTC day {day.group(1)}") for n in lines[outside]]
    frame = raw[PRICE_COLUMNS].assign(
        timestamp=pd.Timestamp(day.group(1), tz="UTC") + pd.to_timedelta(ms.where(~outside), unit="ms"), line=lines
    )[~outside]
    return frame, rejects


def _header_line(lines: list[str]) -> int:
    """Index of the header line: the first line naming a close column (a banner line may come first)."""
    for i, line in enumerate(lines[:5]):
        if "close" in [c.strip().lower() for c in line.split(",")]:
            return i
    return -1


def parse_timestamps(values: pd.Series) -> pd.Series:
    """UTC timestamps from epoch seconds/milliseconds or date-time text; NaT where a value does not parse."""
    sample = values.iloc[:1000]  # which kind, from a sample: coercing millions of date strings to numbers is slow
    if pd.api.types.is_numeric_dtype(values) or pd.to_numeric(sample, errors="coerce").notna().mean() > 0.5:
        numeric = pd.to_numeric(values, errors="coerce")
        unit = "ms" if numeric.abs().median() > 1e11 else "s"
        return pd.to_datetime(numeric, unit=unit, utc=True, errors="coerce")
    parsed = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    if parsed.isna().mean() > 0.5:  # CryptoDataDownload hourly files: "2019-10-17 09-AM"
        parsed = pd.to_datetime(values, utc=True, errors="coerce", format="%Y-%m-%d %I-%p")
    return parsed


def read_ohlcv_csv(path: Path) -> tuple[pd.DataFrame, list[Reject]]:
    """Bars of a generic OHLCV CSV, with a `line` column (1-based line in the file), and malformed-row rejects."""
    text = path.read_text(errors="replace")
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise IngestError(f"{path.name}: empty file")
    head = _header_line(lines)
    if head < 0:
        raise IngestError(f"{path.name}: no header line naming a 'close' column in the first 5 lines")
    header = [c.strip().lower() for c in lines[head].split(",")]
    body, numbers, rejects = _well_formed(lines, head + 1, len(header), path.name)
    # columns that parse whole come back as numbers (fast); a column with text in it stays text, and
    # read_bar_file's to_numeric finds the rows that break it
    raw = pd.read_csv(io.StringIO(body), header=None, names=header, low_memory=False)
    time_col = next((c for c in TIME_COLUMNS if c in raw.columns), None)
    volume_col = "volume_btc" if "volume_btc" in raw.columns else "volume"
    missing = [c for c in ["open", "high", "low", "close", volume_col] if c not in raw.columns]
    if time_col is None or missing:
        raise IngestError(f"{path.name}: missing column(s) {missing or ['timestamp']} in header {list(raw.columns)}")
    frame = raw[["open", "high", "low", "close"]].assign(
        volume=raw[volume_col], timestamp=parse_timestamps(raw[time_col]), line=numbers
    )
    return frame, rejects


def read_bar_file(path: Path) -> tuple[pd.DataFrame, list[Reject]]:
    """Clean bars (BAR_COLUMNS, ascending, unique times) of one file and its row rejects. Raises IngestError
    naming the file when it cannot be parsed at all."""
    try:
        if path.suffix == ".zip":
            frame, rejects = read_lean_zip(path)
        elif path.suffix == ".parquet":  # a store written by pipelines.exchange.candles
            frame, rejects = pd.read_parquet(path)[BAR_COLUMNS], []
            if not isinstance(frame["timestamp"].dtype, pd.DatetimeTZDtype):
                raise IngestError(f"{path.name}: timestamp column holds {frame['timestamp'].dtype}, not UTC times")
            frame = frame.assign(timestamp=frame["timestamp"].dt.tz_convert("UTC"), line=np.arange(1, len(frame) + 1))
        else:
            frame, rejects = read_ohlcv_csv(path)
    except (ValueError, KeyError, UnicodeDecodeError, OSError) as e:  # pandas/arrow parse errors are ValueErrors
        raise IngestError(f"{path.name}: unreadable ({type(e).__name__}: {str(e)[:200]})") from e
    for col in PRICE_COLUMNS:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(np.float64)
    bad_time = frame["timestamp"].isna().to_numpy()
    values = frame[PRICE_COLUMNS].to_numpy()
    bad_value = ~np.isfinite(values).all(axis=1) & ~bad_time
    for line in frame.loc[bad_time, "line"]:
        rejects.append(Reject(f"{path.name}:{line}", "unparseable timestamp"))
    for line, row in zip(frame.loc[bad_value, "line"], values[bad_value], strict=True):
        # "inf" parses as a number: an infinite value is rejected as surely as a missing one
        missing = [c for c, v in zip(PRICE_COLUMNS, row, strict=True) if np.isnan(v)]
        infinite = [c for c, v in zip(PRICE_COLUMNS, row, strict=True) if np.isinf(v)]
        reasons = []
        if missing:
            reasons.append(f"missing or non-numeric {', '.join(missing)}")
        if infinite:
            reasons.append(f"infinite {', '.join(infinite)}")
        rejects.append(Reject(f"{path.name}:{line}", "; ".join(reasons)))
    frame = frame[~bad_time & ~bad_value].sort_values(["timestamp", "line"], kind="stable")
    dup = frame["timestamp"].duplicated(keep="first")
    for line, ts in zip(frame.loc[dup, "line"], frame.loc[dup, "timestamp"], strict=True):
        rejects.append(Reject(f"{path.name}:{line}", f"duplicate timestamp {ts.isoformat()}"))
    frame = frame[~dup]
    return frame[BAR_COLUMNS].assign(source=path.name).reset_index(drop=True), rejects


def ingest_bars(source: str | Path, bar_s: int = 60) -> tuple[pd.DataFrame, list[Reject]]:
    """All bars of the `*.zip`, `*.csv` and `*.parquet` files in `source` (one table, ascending UTC, unique timestamps).

    Files whose bar interval (smallest spacing) is not `bar_s` seconds are rejected whole, so hourly files are not mixed
    into minute bars. Raises IngestError when the source folder is missing.
    """
    source = Path(source)
    if not source.is_dir():
        raise IngestError(f"{source}: bar source directory not found")
    frames, rejects = [], []
    files = sorted(p for p in source.iterdir() if p.suffix in (".zip", ".csv", ".parquet"))
    for path in files:
        try:
            bars, row_rejects = read_bar_file(path)
        except IngestError as e:
            rejects.append(Reject(path.name, str(e)))
            continue
        rejects += row_rejects
        spacing = bars["timestamp"].diff().dt.total_seconds().min() if len(bars) > 1 else bar_s  # larger: gaps
        if spacing != bar_s:
            rejects.append(Reject(path.name, f"bars every {spacing:g} s, expected {bar_s} s"))
            continue
        frames.append(bars)
    if not frames:
        empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in PRICE_COLUMNS})
        return empty.assign(timestamp=pd.Series(dtype="datetime64[ns, UTC]"), source="")[
            [*BAR_COLUMNS, "source"]
        ], rejects
    bars = pd.concat(frames, ignore_index=True).sort_values("timestamp", kind="stable")
    dup = bars["timestamp"].duplicated(keep="first")
    rejects += [
        Reject(f"{s}@{t.isoformat()}", "timestamp already read from another file")
        for s, t in zip(bars.loc[dup, "source"], bars.loc[dup, "timestamp"], strict=True)
    ]
    bars = bars[~dup].reset_index(drop=True)
    log.info("ingested %d bars from %d file(s) in %s (%d rejected)", len(bars), len(files), source, len(rejects))
    return bars, rejects
