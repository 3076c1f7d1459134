"""Ingest of WFDB records laid out as PhysioNet's PTB Diagnostic ECG Database.

Layout: `<source>/RECORDS` (one `patientNNN/recname` per line), optional `CONTROLS` (healthy controls), and
`patientNNN/recname.{hea,dat[,xyz]}`. Without a RECORDS file every `*.hea` below the source is a record.
Header comments hold metadata as `key: value` lines (PTB: `age: 81`, `sex: female`,
`Reason for admission: Myocardial infarction`); see https://physionet.org/content/ptbdb/1.0.0/.

`ingest_records` returns one row per readable record plus `(record, reason)` rejects for the others, so one bad
record never stops the rest.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.errors import IngestError
from pipelines.quarantine import Reject

log = logging.getLogger(__name__)

RECORD_COLUMNS = [
    "record", "patient", "fs_hz", "n_samples", "duration_s", "leads", "age", "sex", "diagnosis", "healthy",
]  # fmt: skip


def list_records(source: Path) -> list[str]:
    """Record names (relative paths without extension) listed in RECORDS, or every header found."""
    index = source / "RECORDS"
    if index.is_file():
        return [line.strip() for line in index.read_text().splitlines() if line.strip()]
    return sorted(str(p.relative_to(source).with_suffix("")) for p in source.rglob("*.hea"))


def parse_comments(comments: list[str]) -> dict[str, str]:
    """`key: value` header comment lines as a dict with lower-case keys (other lines are ignored)."""
    out = {}
    for line in comments:
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out[key.strip().lower()] = value.strip()
    return out


def read_header(source: Path, record: str, controls: set[str]) -> dict:
    """One row of the records table from `record`'s header; raises IngestError naming the record."""
    import wfdb

    try:
        header = wfdb.rdheader(str(source / record))
    except Exception as e:  # wfdb raises bare ValueError/FileNotFoundError/IndexError on bad headers
        raise IngestError(f"{record}: unreadable header ({type(e).__name__}: {e})") from e
    meta = parse_comments(header.comments or [])
    diagnosis = meta.get("reason for admission", "n/a")
    age = pd.to_numeric(meta.get("age"), errors="coerce")
    return {
        "record": record,
        "patient": Path(record).parent.name or record,
        "fs_hz": float(header.fs),
        "n_samples": int(header.sig_len or 0),
        "duration_s": float((header.sig_len or 0) / header.fs),
        "leads": ",".join(name.lower() for name in header.sig_name or []),
        "age": float(age) if np.isfinite(age) else np.nan,
        "sex": meta.get("sex", "n/a"),
        "diagnosis": diagnosis,
        "healthy": record in controls or diagnosis.lower().startswith("healthy"),
    }


def ingest_records(source: str | Path) -> tuple[pd.DataFrame, list[Reject]]:
    """The records table (columns RECORD_COLUMNS) of a WFDB source directory, and the rejected records."""
    source = Path(source)
    if not source.is_dir():
        raise IngestError(f"{source}: ECG source directory not found")
    controls_file = source / "CONTROLS"
    controls = set(controls_file.read_text().split()) if controls_file.is_file() else set()
    rows, rejects = [], []
    for record in list_records(source):
        if not (source / f"{record}.hea").is_file():
            rejects.append(Reject(record, "listed in RECORDS but its .hea file is missing"))
            continue
        try:
            rows.append(read_header(source, record, controls))
        except IngestError as e:
            rejects.append(Reject(record, str(e)))
    log.info("ingested %d ECG records from %s (%d rejected)", len(rows), source, len(rejects))
    return pd.DataFrame(rows, columns=RECORD_COLUMNS), rejects


def read_signal(source: str | Path, record: str, leads: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Signal (n_samples, n_leads) in mV of `record`, restricted to `leads` (case-insensitive) when given.

    Raises IngestError naming the record when the files cannot be read or a requested lead is missing.
    """
    import wfdb

    try:
        rec = wfdb.rdrecord(str(Path(source) / record), physical=True)
    except Exception as e:  # wfdb raises bare ValueError/OSError on truncated or corrupt files
        raise IngestError(f"{record}: unreadable signal ({type(e).__name__}: {e})") from e
    names = [n.lower() for n in rec.sig_name]
    units = [u.lower() for u in rec.units]
    scale = np.array([1e-3 if u in ("uv", "µv") else 1.0 for u in units])  # everything in mV
    signal = rec.p_signal * scale
    if leads is None:
        return signal, names
    missing = [lead for lead in leads if lead.lower() not in names]
    if missing:
        raise IngestError(f"{record}: lead(s) {missing} not in record (has {names})")
    cols = [names.index(lead.lower()) for lead in leads]
    return signal[:, cols], [names[c] for c in cols]
