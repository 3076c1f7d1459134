"""Property tests of WFDB record ingest: any header text beside any signal file gives one records-table row or
one reject naming the record, never an exception; header comments always parse to a dict; a record name from
an index file either is rejected or stays inside the source folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import event, given, settings
from hypothesis import strategies as st

from pipelines.ecg.records import RECORD_COLUMNS, ingest_records, parse_comments, safe_record_name
from pipelines.errors import IngestError


@settings(max_examples=200)
@given(comments=st.lists(st.text(max_size=40), max_size=10))
def test_parse_comments_gives_stripped_lowercase_keys(comments):
    meta = parse_comments(comments)
    assert all(k and k == k.strip().lower() for k in meta)
    assert all(v == v.strip() for v in meta.values())
    assert set(meta) <= {line.partition(":")[0].strip().lower() for line in comments}


@settings(max_examples=300)
@given(name=st.one_of(st.text(max_size=30), st.text(st.sampled_from("./\\\0a~ "), max_size=12)))
def test_a_record_name_is_rejected_or_stays_inside_the_folder(name):
    try:
        safe_record_name(name)
    except IngestError as e:
        assert repr(name) in str(e)
        return
    source = "/data/source"
    assert os.path.normpath(os.path.join(source, name)).startswith(source)
    assert os.path.normpath(os.path.join(source, name + ".hea")).startswith(source + "/")


TOKEN = st.one_of(
    st.text(st.sampled_from("0123456789.-+e/()x"), min_size=1, max_size=8),
    st.sampled_from(["rec", "rec.dat", "other.dat", "../x.dat", "/etc/x.dat", "16", "212", "8", "1000", "0", "-5",
                     "nan", "inf", "1e400", "99999999999999999999", "200(0)/mV", "ii", "v1", "mV"]),
)  # fmt: skip


WIDTH = {"16": 2.0, "212": 1.5, "8": 1.0, "80": 1.0, "24": 3.0}  # bytes per sample


@st.composite
def wfdb_records(draw):
    """(header, dat): a WFDB header (record line `rec n_sig fs sig_len`, one line per signal: file, format,
    gain/units, resolution, zero, initial value, checksum, block size, lead name; `key: value` comments) and a
    signal file, mostly consistent, with a few fields replaced by random tokens or cut off."""
    n_sig = draw(st.integers(0, 3))
    fs = draw(st.sampled_from(["1000", "500", "250", "1000", "0", "-1"]))
    sig_len = draw(st.sampled_from(["10", "1000", "3", "10", "1000", "0"]))
    record_line = ["rec", str(n_sig), fs, sig_len]
    signals = [["rec.dat", draw(st.sampled_from(sorted(WIDTH))), "200/mV", "12", "0", "0", "0", "0",
                draw(st.sampled_from(["ii", "v1", "i"]))] for _ in range(n_sig)]  # fmt: skip
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 3]))):  # corruption
        where = draw(st.integers(0, n_sig))
        fields = record_line if where == n_sig else signals[where]
        if len(fields) < 2:
            continue
        if draw(st.booleans()):  # any field of a signal line, the file name too (`../x.dat`)
            fields[draw(st.integers(1 if where == n_sig else 0, len(fields) - 1))] = draw(TOKEN)
        else:
            del fields[draw(st.integers(1, len(fields) - 1)) :]
    comments = draw(st.lists(st.sampled_from(["age: 81", "sex: female", "age: n/a", "age:", ":", "age: 1e999",
                                              "Reason for admission: Healthy control", "x"]), max_size=3))  # fmt: skip
    header = "\n".join([" ".join(record_line), *(" ".join(f) for f in signals), *("# " + c for c in comments)])
    size = int(np.ceil(int(sig_len) * sum(WIDTH[f[1]] for f in signals if len(f) > 1 and f[1] in WIDTH)))
    if draw(st.booleans()):  # a signal file of another size: truncated, or longer than the header says
        size = draw(st.integers(0, 64))
    return header + "\n", np.random.default_rng(draw(st.integers(0, 2**16))).bytes(size)


def _ingest(header: str, dat: bytes):
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp)
        (source / "rec.hea").write_text(header, errors="surrogateescape")
        (source / "rec.dat").write_bytes(dat)
        return ingest_records(source)


def assert_row_or_reject(records, rejects) -> None:
    assert list(records.columns) == RECORD_COLUMNS
    assert len(records) + len(rejects) == 1, (records, rejects)
    if rejects:
        assert rejects[0].item == "rec" and rejects[0].reason.startswith("rec: "), rejects
        event("reject: " + rejects[0].reason.split("(")[0][5:40])
        return
    event("row")
    row = records.iloc[0]
    assert row.record == "rec" and row.n_samples > 0
    assert np.isfinite(row.fs_hz) and row.fs_hz > 0 and np.isfinite(row.duration_s)
    assert np.isnan(row.age) or np.isfinite(row.age)


@settings(max_examples=250)
@given(record=wfdb_records())
def test_any_wfdb_header_gives_a_row_or_a_reject(record):
    assert_row_or_reject(*_ingest(*record))


@settings(max_examples=100)
@given(header=st.text(max_size=200), dat=st.binary(max_size=32))
def test_any_text_as_a_header_gives_a_row_or_a_reject(header, dat):
    assert_row_or_reject(*_ingest(header, dat))
