"""Property tests of the bar file parsers: any file either parses to clean bars (columns BAR_COLUMNS + source,
ascending unique UTC timestamps, finite numbers) with `file:line` rejects, or raises IngestError naming the file;
never another exception, never a silently wrong table."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import event, given, settings
from hypothesis import strategies as st

from pipelines.errors import IngestError
from pipelines.exchange.bars import BAR_COLUMNS, PRICE_COLUMNS, parse_timestamps, read_bar_file
from tests.conftest import shared

BASE = pd.Timestamp("2024-03-01T00:00:00Z")


def _read(name: str, data: bytes):
    """read_bar_file of `data` written as `name` in a fresh folder: (bars, rejects) or the IngestError."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        try:
            return read_bar_file(path)
        except IngestError as e:
            assert str(e).startswith(f"{name}: "), e  # the error names the file
            event("file rejected", str(e)[len(name) + 2 :][:70])
            return e


def assert_clean(result, name: str) -> None:
    if isinstance(result, IngestError):
        return
    bars, rejects = result
    assert list(bars.columns) == [*BAR_COLUMNS, "source"]
    assert isinstance(bars.timestamp.dtype, pd.DatetimeTZDtype) and str(bars.timestamp.dt.tz) == "UTC"
    assert bars.timestamp.is_monotonic_increasing and bars.timestamp.is_unique
    assert np.isfinite(bars[PRICE_COLUMNS].to_numpy(dtype=np.float64)).all()
    assert (bars.source == name).all()
    assert all(r.item.startswith(f"{name}:") and r.reason for r in rejects)


CSV_TEXT = st.text(st.sampled_from("0123456789,.-:TZe \n\r\"'abcinfopenhighlowclosevolumetimestamp\x00"), max_size=400)


@settings(max_examples=150)
@given(
    header=st.sampled_from(["", "timestamp,open,high,low,close,volume\n", "time,close,open,low,high,volume\n"]),
    text=st.one_of(CSV_TEXT, st.text(max_size=300)),
)
def test_any_text_as_csv_parses_or_raises_ingest_error(header, text):
    assert_clean(_read("any.csv", (header + text).encode("utf-8", "surrogatepass")), "any.csv")


@settings(max_examples=100)
@given(
    header=st.sampled_from(["timestamp,open,high,low,close,volume", "unix,date,symbol,open,high,low,close,volume"]),
    data=st.binary(max_size=300),
)
def test_any_bytes_under_a_valid_header_parse_or_raise_ingest_error(header, data):
    assert_clean(_read("bytes.csv", header.encode() + b"\n" + data), "bytes.csv")


@settings(max_examples=100)
@given(data=st.one_of(st.binary(max_size=300), st.just(b"PK\x03\x04").map(lambda b: b + bytes(40))))
def test_any_bytes_as_zip_raise_ingest_error_or_parse(data):
    assert_clean(_read("20240301_trade.zip", data), "20240301_trade.zip")


def _zip(member: str, payload: bytes, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        zf.writestr(member, payload)
    return buf.getvalue()


LEAN_TEXT = st.text(st.sampled_from("0123456789,.-e \ninfa"), max_size=400)


@settings(max_examples=100)
@given(
    text=st.one_of(LEAN_TEXT, st.text(max_size=200)),
    name=st.sampled_from(["20240301_trade.zip"] * 5 + ["20241399_trade.zip", "trade.zip"]),
    method=st.sampled_from([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]),
)
def test_a_zip_holding_any_text_parses_or_raises_ingest_error(text, name, method):
    assert_clean(_read(name, _zip("x_minute_trade.csv", text.encode("utf-8", "surrogatepass"), method)), name)


@settings(max_examples=60)
@given(data=st.binary(min_size=1, max_size=200), flip=st.integers(0, 10_000))
def test_a_damaged_real_zip_parses_or_raises_ingest_error(data, flip):
    """Damage anywhere in a real Lean zip (overwritten bytes, truncation) is a file reject, never a crash."""
    real = shared("exchange", "20170904_trade.zip").read_bytes()
    at = flip % len(real)
    damaged = real[:at] + data + real[at + len(data) :]
    assert_clean(_read("20170904_trade.zip", damaged), "20170904_trade.zip")
    assert_clean(_read("20170904_trade.zip", real[:at]), "20170904_trade.zip")


# --- near-valid files: well-formed rows with random corruption --------------------------------------------

PRICE = st.floats(min_value=1.0, max_value=1e6, allow_nan=False).map(lambda x: round(x, 2))
BAD_FIELD = st.sampled_from(["", "nan", "NaN", "inf", "-inf", "Infinity", "1e999", "ten", "1,5", '"', "0x10", " "])
TIME_FORMATS = {
    "iso": lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "epoch_s": lambda t: str(int(t.timestamp())),
    "epoch_ms": lambda t: str(int(t.timestamp() * 1000)),
    "cdd": lambda t: t.strftime("%Y-%m-%d %H:%M:%S"),
}


@st.composite
def near_valid_csv(draw):
    """(text, rows): an OHLCV CSV of up to 40 minute bars (maybe shuffled, duplicated), with some fields replaced
    by junk, some rows given a field too many or too few, blank lines, and the data rows as drawn."""
    n = draw(st.integers(0, 40))
    minutes = draw(st.lists(st.integers(0, 60), min_size=n, max_size=n))
    fmt = draw(st.sampled_from(sorted(TIME_FORMATS)))
    lines = []
    for m in minutes:
        o, h, lo, c = (draw(PRICE) for _ in range(4))
        fields = [TIME_FORMATS[fmt](BASE + pd.Timedelta(minutes=m)), *map(repr, (o, h, lo, c)), repr(draw(PRICE))]
        corruption = draw(st.sampled_from(["none"] * 6 + ["junk", "extra", "missing", "blank"]))
        if corruption == "junk":
            fields[draw(st.integers(0, 5))] = draw(BAD_FIELD)
        elif corruption == "extra":
            fields.append("1")
        elif corruption == "missing":
            fields.pop()
        elif corruption == "blank":
            lines.append("   ")
        lines.append(",".join(fields))
    header = draw(st.sampled_from(["timestamp,open,high,low,close,volume", "Date,Open,High,Low,Close,Volume"]))
    banner = draw(st.sampled_from([[], ["https://www.cryptodatadownload.com"]]))
    return "\n".join([*banner, header, *lines]) + "\n"


@settings(max_examples=200)
@given(text=near_valid_csv())
def test_near_valid_csv_every_data_line_is_kept_or_rejected_once(text):
    result = _read("near.csv", text.encode())
    assert_clean(result, "near.csv")
    if isinstance(result, IngestError):
        return
    bars, rejects = result
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if "close" in line.lower())
    data_lines = [i + 1 for i in range(head + 1, len(lines)) if lines[i].strip()]
    rejected = [int(r.item.rsplit(":", 1)[1]) for r in rejects]
    assert len(set(rejected)) == len(rejected), rejects  # one reject per line
    assert set(rejected) <= set(data_lines)
    assert len(bars) + len(rejected) == len(data_lines)  # nothing dropped silently, nothing invented


@settings(max_examples=100)
@given(
    minutes=st.lists(st.integers(0, 1439), max_size=40),
    closes=st.lists(PRICE, min_size=40, max_size=40),
    shuffle=st.randoms(use_true_random=False),
)
def test_clean_csv_rows_come_back_exactly_sorted_with_duplicates_rejected(minutes, closes, shuffle):
    rows = [(BASE + pd.Timedelta(minutes=m), c) for m, c in zip(minutes, closes, strict=False)]
    shuffle.shuffle(rows)
    text = "timestamp,open,high,low,close,volume\n" + "".join(
        f"{t.isoformat()},{c!r},{c!r},{c!r},{c!r},1.5\n" for t, c in rows
    )
    bars, rejects = _read("clean.csv", text.encode())
    first = {}
    for t, c in rows:
        first.setdefault(t, c)
    assert list(bars.timestamp) == sorted(first)
    assert list(bars.close) == [first[t] for t in sorted(first)]
    assert len(rejects) == len(rows) - len(first)
    assert all(r.reason.startswith("duplicate timestamp") for r in rejects)


@settings(max_examples=150)
@given(values=st.lists(st.one_of(st.text(max_size=30), st.integers().map(str), st.floats().map(str)), max_size=20))
def test_parse_timestamps_gives_utc_or_nat_for_each_value(values):
    parsed = parse_timestamps(pd.Series(values, dtype=object))
    assert len(parsed) == len(values)
    assert isinstance(parsed.dtype, pd.DatetimeTZDtype) and str(parsed.dt.tz) == "UTC"
