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
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from pipelines.errors import IngestError
from pipelines.quarantine import Reject

log = logging.getLogger(__name__)

RECORD_COLUMNS = [
    "record", "patient", "fs_hz", "n_samples", "duration_s", "leads", "age", "sex", "diagnosis", "healthy",
]  # fmt: skip


def safe_record_name(name: str, folder: str = "source directory") -> str:
    """`name` if it is a relative path that stays inside the folder (no '..', not absolute, no backslash or NUL);
    else IngestError. Record names come from index files and headers, which are data, not trusted paths."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts or "\\" in name or "\0" in name:
        raise IngestError(f"{name!r}: path would leave the {folder}")
    return name


def list_records(source: Path) -> list[str]:
    """Record names (relative paths without extension) listed in RECORDS, or every header found."""
    index = source / "RECORDS"
    if index.is_file():
        return [line.strip() for line in index.read_text(errors="replace").splitlines() if line.strip()]
    return sorted(str(p.relative_to(source).with_suffix("")) for p in source.rglob("*.hea"))


def parse_comments(comments: list[str]) -> dict[str, str]:
    """`key: value` header comment lines as a dict with lower-case keys (other lines are ignored)."""
    out = {}
    for line in comments:
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out[key.strip().lower()] = value.strip()
    return out


# Bytes per sample of the WFDB formats whose samples have a fixed width (format 212 packs 2 samples in 3 bytes,
# 310 and 311 pack 3 samples in 4 bytes); https://physionet.org/physiotools/wag/signal-5.htm
BYTES_PER_SAMPLE = {"8": 1.0, "16": 2.0, "61": 2.0, "80": 1.0, "160": 2.0, "212": 1.5, "24": 3.0, "32": 4.0,
                    "310": 4 / 3, "311": 4 / 3}  # fmt: skip


def check_signal_files(source: Path, record: str, header) -> list[str]:
    """The record's missing signal files (PTB copies in the wild often lack the .xyz of the Frank leads). Raises
    IngestError when every file is missing, or a present file's size disagrees with the header's sample count
    (wfdb would fail on a short file, and silently read only part of a long one)."""
    files: dict[str, list[str]] = {}
    for name, fmt in zip(header.file_name, header.fmt, strict=True):
        files.setdefault(name, []).append(str(fmt))
    missing = []
    for name, fmts in files.items():
        path = source / Path(record).parent / safe_record_name(name, f"source directory (signal file of {record})")
        if not path.is_file():
            missing.append(name)
            continue
        width = sum(BYTES_PER_SAMPLE.get(f, np.nan) for f in fmts)
        expected = header.sig_len * width
        size = path.stat().st_size
        if np.isfinite(expected) and size != int(np.ceil(expected)):
            raise IngestError(
                f"{record}: header says {header.sig_len} samples x {len(fmts)} signals ({int(np.ceil(expected))} "
                f"bytes) but {name} holds {size} bytes ({int(size // width)} samples): truncated or wrong header"
            )
    if len(missing) == len(files):
        raise IngestError(f"{record}: signal file{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing")
    return missing


def read_header(source: Path, record: str, controls: set[str]) -> tuple[dict, list[Reject]]:
    """One row of the records table from `record`'s header, and a reject per missing signal file (the record
    keeps the leads of its other files); raises IngestError naming the record."""
    import wfdb

    try:
        header = wfdb.rdheader(str(source / record))
    except Exception as e:  # wfdb raises bare ValueError/FileNotFoundError/IndexError on bad headers
        raise IngestError(f"{record}: unreadable header ({type(e).__name__}: {e})") from e
    if not header.sig_len or not header.fs:
        raise IngestError(f"{record}: header gives no sample count or sampling rate")
    if not header.n_sig or not header.file_name:
        raise IngestError(f"{record}: header lists no signals")
    if len(header.file_name) != header.n_sig:
        raise IngestError(f"{record}: header announces {header.n_sig} signals but describes {len(header.file_name)}")
    unnamed = [i + 1 for i, name in enumerate(header.sig_name or [None] * header.n_sig) if not name]
    if unnamed:
        raise IngestError(f"{record}: signal(s) {unnamed} have no lead name in the header")
    missing = check_signal_files(source, record, header)
    file_of = {lead.lower(): file for lead, file in zip(header.sig_name, header.file_name, strict=True)}
    leads = [lead for lead, file in file_of.items() if file not in missing]
    rejects = [
        Reject(f"{record}:{file}", "signal file missing: lead(s) "
               f"{', '.join(lead for lead, f in file_of.items() if f == file)} left out, the others kept")
        for file in missing
    ]  # fmt: skip
    meta = parse_comments(header.comments or [])
    diagnosis = meta.get("reason for admission", "n/a")
    age = pd.to_numeric(meta.get("age"), errors="coerce")
    return {
        "record": record,
        "patient": Path(record).parent.name or record,
        "fs_hz": float(header.fs),
        "n_samples": int(header.sig_len),
        "duration_s": float(header.sig_len / header.fs),
        "leads": ",".join(leads),
        "age": float(age) if np.isfinite(age) else np.nan,
        "sex": meta.get("sex", "n/a"),
        "diagnosis": diagnosis,
        "healthy": record in controls or diagnosis.lower().startswith("healthy"),
    }, rejects


def ingest_records(source: str | Path, only: list[str] | None = None) -> tuple[pd.DataFrame, list[Reject]]:
    """The records table (columns RECORD_COLUMNS) of a WFDB source directory, and the rejected records.
    `only` restricts it to those records (e.g. the subset that was downloaded)."""
    source = Path(source)
    if not source.is_dir():
        raise IngestError(f"{source}: ECG source directory not found")
    controls_file = source / "CONTROLS"
    controls = set(controls_file.read_text(errors="replace").split()) if controls_file.is_file() else set()
    rows, rejects = [], []
    records = only if only is not None else list_records(source)
    if only is None and (source / "RECORDS").is_file():  # a record dropped in without its line in RECORDS
        headers = {str(p.relative_to(source).with_suffix("")) for p in source.rglob("*.hea")}
        rejects += [
            Reject(record, "not listed in RECORDS (a .hea file in the source directory): add its name to RECORDS")
            for record in sorted(headers - set(records))
        ]
    for record in records:
        try:
            safe_record_name(record)
        except IngestError as e:
            rejects.append(Reject(record, str(e)))
            continue
        if not (source / f"{record}.hea").is_file():
            rejects.append(Reject(record, "listed in RECORDS but its .hea file is missing", routine=True))
            continue
        try:
            row, partial = read_header(source, record, controls)
            rows.append(row)
            rejects += partial
        except IngestError as e:
            rejects.append(Reject(record, str(e)))
    log.info("ingested %d ECG records from %s (%d rejected)", len(rows), source, len(rejects))
    return pd.DataFrame(rows, columns=RECORD_COLUMNS), rejects


def read_signal(source: str | Path, record: str, leads: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Signal (n_samples, n_leads) in mV of `record`, restricted to `leads` (case-insensitive) when given.

    Raises IngestError naming the record when the files cannot be read or a requested lead is missing.
    """
    import wfdb

    path = str(Path(source) / record)
    try:
        header = wfdb.rdheader(path)
        # a lead whose signal file is missing is not in the record (ingest keeps a record for its other files)
        index = {name.lower(): i for i, (name, file) in enumerate(zip(header.sig_name, header.file_name, strict=True))
                 if (Path(path).parent / file).is_file()}  # fmt: skip
        names = list(index)
        if leads is not None:
            missing = [lead for lead in leads if lead.lower() not in index]
            if missing:
                raise IngestError(f"{record}: lead(s) {missing} not in record (has {names})")
        # only the wanted channels: wfdb then reads only their signal files (a .dat without its .xyz is readable)
        channels = list(index.values()) if leads is None else [index[lead.lower()] for lead in leads]
        rec = wfdb.rdrecord(path, physical=True, channels=channels)
    except IngestError:
        raise
    except Exception as e:  # wfdb raises bare ValueError/OSError on truncated or corrupt files
        raise IngestError(f"{record}: unreadable signal ({type(e).__name__}: {e})") from e
    scale = np.array([1e-3 if u.lower() in ("uv", "µv") else 1.0 for u in rec.units])  # everything in mV
    return rec.p_signal * scale, [n.lower() for n in rec.sig_name]
