"""Expert factors of real heartbeats from the cardiologists' marks of the Lobachevsky University Electrocardiography
Database (LUDB 1.0.1, PhysioNet; Kalyakulina et al. 2020, "LUDB: A New Open-Access Validation Tool for
Electrocardiogram Delineation Algorithms", IEEE Access 8, doi:10.1109/ACCESS.2020.3029211).

LUDB: 200 subjects, 10 s, 12 leads at 500 Hz. On each lead, every P wave, QRS complex and T wave is marked by its
onset `(`, peak (`p`, `N`, `t`) and offset `)` in an annotation file named for the lead (`<record>.ii`, MIT format).
A wave whose onset or offset lies outside the 10 s has that mark missing.

One beat per marked QRS, with these factors (NaN where a mark they need is missing, e.g. a beat without a P wave
keeps its other factors):
- `rr_s`: QRS peak to the next QRS peak (the last beat of the lead: NaN);
- `qrs_s`: QRS onset to QRS offset;
- `pr_s`: onset of the beat's P wave (the last P between the previous QRS offset and this QRS onset) to QRS onset;
- `qt_s`: QRS onset to the offset of the beat's T wave (the first T between this QRS offset and the next QRS onset);
- `t_amp`, `p_amp`: the signal at the wave's peak less the baseline, the signal at QRS onset (the end of the
  isoelectric PR segment). LUDB's amplitudes are relative: every lead's gain makes it span exactly 1.0 over its
  10 s, so these are fractions of the lead's range, not millivolts.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.dataset import TrainingSet
from pipelines.ecg.beats import EDGE_REASONS, BeatConfig, beat_rows, cut_beats, training_set_of
from pipelines.ecg.leads import check_length_and_rate
from pipelines.ecg.quality import beat_quality
from pipelines.ecg.records import ingest_records, read_signal, safe_record_name
from pipelines.errors import DataValidationError, IngestError
from pipelines.quarantine import Reject

log = logging.getLogger(__name__)

FS_HZ = 500.0  # LUDB's sampling rate
PEAKS = {"p": "p", "N": "qrs", "t": "t"}  # annotation symbol of a wave's peak -> wave kind
FACTORS = ("rr_s", "qrs_s", "pr_s", "qt_s", "t_amp", "p_amp")


@dataclass(frozen=True)
class Wave:
    kind: str  # "p", "qrs" or "t"
    peak: int  # sample of the peak mark
    onset: int | None  # sample of the onset mark; None where the record starts inside the wave
    offset: int | None  # sample of the offset mark; None where the record ends inside the wave


def parse_waves(samples: np.ndarray, symbols: list[str]) -> list[Wave]:
    """The waves of one lead's marks (samples in increasing order): each peak symbol with the `(` just before it
    and the `)` just after it, where those are present."""
    waves = []
    for i, symbol in enumerate(symbols):
        if symbol not in PEAKS:
            continue
        onset = int(samples[i - 1]) if i > 0 and symbols[i - 1] == "(" else None
        offset = int(samples[i + 1]) if i + 1 < len(symbols) and symbols[i + 1] == ")" else None
        waves.append(Wave(PEAKS[symbol], int(samples[i]), onset, offset))
    return waves


def read_waves(source: str | Path, record: str, lead: str) -> list[Wave]:
    """The marked waves of `lead` of LUDB `record` (e.g. "data/1") in `source`; raises IngestError naming the
    record and lead when its annotation file is missing or unreadable."""
    path = Path(source) / f"{record}.{lead}"
    try:
        samples, symbols = read_annotations(path)
    except (OSError, ValueError) as e:
        raise IngestError(f"{record}: no readable {lead!r} annotations ({type(e).__name__}: {e})") from e
    return parse_waves(samples, symbols)


SKIP, NUM, SUB, CHN, AUX = 59, 60, 61, 62, 63  # the MIT format's pseudo-annotation codes


@functools.cache
def _mit_symbols() -> dict[int, str]:
    """wfdb's table of annotation codes and their symbols ("N", "(", "p", ...)."""
    from wfdb.io.annotation import ann_label_table

    return dict(zip(ann_label_table.label_store.tolist(), ann_label_table.symbol.tolist(), strict=True))


def read_annotations(path: Path) -> tuple[np.ndarray, list[str]]:
    """Sample numbers and symbols of a WFDB annotation file in MIT format (PhysioNet's annotation format,
    physionet.org/physiotools/wag/annot-5.htm), as `wfdb.rdann(...).sample` and `.symbol` give them.

    Read here because `wfdb.rdann` also parses the record's header on every call (for a sampling rate the marks do
    not need): over LUDB's 2,400 annotation files that was 22 s of its 43 s. Each annotation is a little-endian
    16-bit word, its code in the top 6 bits and its sample's increment in the low 10; SKIP adds a 32-bit signed
    increment (high half first), NUM/SUB/CHN only set fields of the previous annotation, AUX is followed by its
    text (padded to an even length); a zero word ends the file. Raises ValueError on a file that ends inside an
    annotation."""
    data = path.read_bytes()
    if len(data) % 2:
        raise ValueError(f"{path.name}: odd length ({len(data)} bytes), not an MIT-format annotation file")
    words = np.frombuffer(data, dtype="<u2").tolist()
    symbol_of = _mit_symbols()
    samples, symbols, sample, i = [], [], 0, 0
    while i < len(words) and words[i] != 0:
        code, value = words[i] >> 10, words[i] & 0x3FF
        if code == SKIP:
            if i + 2 >= len(words):
                raise ValueError(f"{path.name}: ends inside a SKIP")
            skip = words[i + 1] << 16 | words[i + 2]
            sample += skip - (1 << 32) if skip >= 1 << 31 else skip
            i += 3
            continue
        if code == AUX:
            i += 1 + (value + 1) // 2
            continue
        if code not in (NUM, SUB, CHN):
            sample += value
            samples.append(sample)
            symbols.append(symbol_of.get(code, "?"))
        i += 1
    if i > len(words):
        raise ValueError(f"{path.name}: ends inside an AUX note")
    return np.asarray(samples, dtype=np.int64), symbols


def expert_factors(waves: list[Wave], signal: np.ndarray, fs_hz: float = FS_HZ) -> pd.DataFrame:
    """One row per QRS of one lead: its peak sample (`r_sample`), its onset sample (`qrs_onset`, -1 where it is not
    marked) and the FACTORS (module docstring) read off the
    marks and `signal` (n_samples,), the lead's samples."""
    qrs = [w for w in waves if w.kind == "qrs"]
    rows = []
    for k, beat in enumerate(qrs):
        before = qrs[k - 1] if k > 0 else None
        after = qrs[k + 1] if k + 1 < len(qrs) else None
        start = before.offset if before is not None and before.offset is not None else -1
        end = after.onset if after is not None and after.onset is not None else len(signal)
        qrs_start = beat.onset if beat.onset is not None else beat.peak
        qrs_end = beat.offset if beat.offset is not None else beat.peak
        p = _last([w for w in waves if w.kind == "p" and start < w.peak < qrs_start])
        t = _first([w for w in waves if w.kind == "t" and qrs_end < w.peak < end])
        base = signal[beat.onset] if beat.onset is not None else np.nan
        rows.append({
            "r_sample": beat.peak,
            "qrs_onset": beat.onset if beat.onset is not None else -1,
            "rr_s": (after.peak - beat.peak) / fs_hz if after is not None else np.nan,
            "qrs_s": _interval(beat.onset, beat.offset, fs_hz),
            "pr_s": _interval(p.onset if p else None, beat.onset, fs_hz),
            "qt_s": _interval(beat.onset, t.offset if t else None, fs_hz),
            "t_amp": signal[t.peak] - base if t else np.nan,
            "p_amp": signal[p.peak] - base if p else np.nan,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["r_sample", "qrs_onset", *FACTORS])


def _interval(start: int | None, end: int | None, fs_hz: float) -> float:
    return (end - start) / fs_hz if start is not None and end is not None else np.nan


def _first(waves: list[Wave]) -> Wave | None:
    return waves[0] if waves else None


def _last(waves: list[Wave]) -> Wave | None:
    return waves[-1] if waves else None


# ---- LUDB as a dataset of the pipeline: its records table, then beats at the marked QRS peaks -------------------

LEADS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")
VALUE_LABEL = "amplitude (LUDB units: each lead spans 1.0 over its 10 s)"
FACTOR_NAMES = [*FACTORS, "lead"]  # the training set's factors: the expert ones, then the lead (index into LEADS)
ISCHEMIA = ("ischemia", "stemi", "scar formation", "undefined ischemia")  # diagnosis lines of ischemia or scar
NORMAL_AXES = ("normal", "vertical", "horizontal")
DIAGNOSIS_COLUMNS = ["rhythm", "diagnoses", "sinus_rhythm", "ischemia", "lvh"]


@dataclass(frozen=True)
class LudbConfig:
    leads: tuple[str, ...] = LEADS  # beats are cut from each, at its own marked QRS peaks
    database: str = "ludb"  # what `sources.ludb: physionet` downloads (with the `physionet` section's index_url,
    version: str = "1.0.1"  # retries and timeouts)


def header_diagnoses(comments: list[str]) -> dict:
    """The diagnosis labels of a LUDB header's comment lines (`<age>: 51`, `<diagnoses>:`, then one line per
    diagnosis, e.g. `Rhythm: Sinus rhythm.`, `Left ventricular hypertrophy.`): the rhythm, every diagnosis joined
    by '; ', age and sex, and flags for sinus rhythm, ischemia or scar (ISCHEMIA), left ventricular hypertrophy
    and `healthy` (sinus rhythm with a normal, vertical or horizontal axis and no other diagnosis)."""
    lines = [c.strip().rstrip(".") for c in comments]
    meta = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines[:2])}
    found = [line for line in lines[lines.index("<diagnoses>:") + 1 :]] if "<diagnoses>:" in lines else []
    rhythm = next((d.partition(":")[2].strip() for d in found if d.lower().startswith("rhythm:")), "n/a")
    axis = next((d.partition(":")[2].strip().lower() for d in found if d.lower().startswith("electric axis")), "")
    others = [d for d in found if not d.lower().startswith(("rhythm:", "electric axis"))]
    return {
        "rhythm": rhythm,
        "diagnoses": "; ".join(found),
        "sinus_rhythm": rhythm.lower() == "sinus rhythm",
        "ischemia": any(d.lower().startswith(ISCHEMIA) for d in found),
        "lvh": any(d.lower().startswith("left ventricular hypertrophy") for d in found),
        "healthy": rhythm.lower() == "sinus rhythm" and axis in NORMAL_AXES and not others,
        "age": meta.get("<age>", "n/a"),
        "sex": meta.get("<sex>", "n/a"),
    }


def ingest_ludb(source: str | Path, only: list[str] | None = None) -> tuple[pd.DataFrame, list[Reject]]:
    """The records table of a LUDB directory (`RECORDS` lists `data/<n>`): the WFDB records table
    (pipelines.ecg.records.ingest_records), one patient per record, the rhythm as `diagnosis` and the
    header_diagnoses columns; a record without its `ludb` annotation files for every lead is kept (a lead
    without marks is set aside when beats are cut)."""
    records, rejects = ingest_records(source, only)
    labels = [header_diagnoses(_comments(Path(source) / f"{record}.hea")) for record in records.record]
    table = pd.DataFrame(labels, columns=[*DIAGNOSIS_COLUMNS, "healthy"], index=records.index)
    records = records.drop(columns=["healthy"]).join(table)
    records["patient"] = [Path(r).name for r in records.record]  # one subject per record ("data/1" -> "1")
    records["age"] = pd.to_numeric([lab["age"] for lab in labels], errors="coerce")
    records["sex"] = [lab["sex"] for lab in labels]
    records["diagnosis"] = records.rhythm
    return records, rejects


def _comments(header: Path) -> list[str]:
    return [line[1:].strip() for line in header.read_text(errors="replace").splitlines() if line.startswith("#")]


def lead_beats(source: Path, rec, lead: str, signal: np.ndarray, cfg: BeatConfig) -> tuple[tuple | None, list[Reject]]:
    """(rows, factors, labels) of the quality-passing beats of one lead of records-table row `rec`, cut by the
    `beats` recipe at the cardiologists' QRS peak marks, with their expert factors (FACTOR_NAMES), or None when
    none passes; and a reject per beat or lead set aside. (Beats placed on the marked QRS onset instead trained
    worse models: benchmarks/results-study.md.)"""
    item = f"{rec.record}:{lead}"
    try:
        marked = expert_factors(read_waves(source, rec.record, lead), signal, rec.fs_hz)
    except IngestError as e:
        return None, [Reject(item, str(e))]
    if marked.empty:
        return None, [Reject(item, "no QRS marked on this lead")]
    cut = cut_beats(signal, rec.fs_hz, cfg, marked.r_sample.to_numpy())
    reasons = beat_quality(cut.beats_mv, cut.rr_s, cfg)
    rejects = [Reject(f"{item}@{r}", EDGE_REASONS[int(late)], routine=True)
               for r, late in zip(cut.dropped, cut.dropped_late, strict=True)]  # fmt: skip
    ok = reasons == ""
    rejects += [Reject(f"{item}@{r}", why) for r, why in zip(cut.r_peaks[~ok], reasons[~ok], strict=True)]
    if not ok.any():
        return None, [*rejects, Reject(item, "no usable beats")]
    kept = marked.set_index("r_sample").loc[cut.r_peaks[ok]]
    factors = np.column_stack([kept[list(FACTORS)].to_numpy(np.float64), np.full(ok.sum(), LEADS.index(lead))])
    labels = pd.DataFrame({
        "record": rec.record, "patient": rec.patient, "lead": lead, "diagnosis": rec.diagnosis,
        **{c: getattr(rec, c) for c in [*DIAGNOSIS_COLUMNS, "healthy"]},
        "r_sample": cut.r_peaks[ok], "rr_s": cut.rr_s[ok], "hr_bpm": 60.0 / cut.rr_s[ok],
    })  # fmt: skip
    return (beat_rows(cut, cfg)[ok], factors, labels), rejects


def segment_ludb(records: pd.DataFrame, source: str | Path, cfg: BeatConfig,
                 ludb: LudbConfig = LudbConfig()) -> tuple[TrainingSet, list[Reject]]:  # fmt: skip
    """The LUDB training set: the beats of `ludb.leads` of every record in `records` (the validated records table),
    cut by the `beats` recipe `cfg` at the marked QRS peaks, with their expert factors (`factor_kind` "expert"),
    split by subject. Raises DataValidationError when no beat at all could be cut."""
    source, parts, rejects = Path(source), [], []
    t0 = time.perf_counter()
    for i, rec in enumerate(records.itertuples(index=False), 1):
        try:
            signal, names = read_signal(source, safe_record_name(rec.record), list(ludb.leads))
            check_length_and_rate(rec.record, len(signal), rec.fs_hz, cfg)
        except IngestError as e:
            rejects.append(Reject(rec.record, str(e)))
            continue
        for j, lead in enumerate(names):
            part, set_aside = lead_beats(source, rec, lead, signal[:, j], cfg)
            rejects += set_aside
            parts += [part] if part is not None else []
        if i % 50 == 0 or i == len(records):
            log.info("segmented %d/%d LUDB records (%.0f s), %d beats so far", i, len(records),
                     time.perf_counter() - t0, sum(len(p[0]) for p in parts))  # fmt: skip
    if not parts:
        raise DataValidationError(f"{source}: no heartbeats could be cut from {len(records)} LUDB record(s)")
    return training_set_of(parts, FACTOR_NAMES, "expert", cfg, VALUE_LABEL), rejects
