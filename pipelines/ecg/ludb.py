"""Expert factors of real heartbeats from the cardiologists' marks of the Lobachevsky University Electrocardiography
Database (LUDB 1.0.1, PhysioNet; Kalyakulina et al. 2020, "LUDB: A New Open-Access Validation Tool for
Electrocardiogram Delineation Algorithms", IEEE Access 8, doi:10.1109/ACCESS.2020.3029211).

LUDB: 200 subjects, 10 s, 12 leads at 500 Hz. On each lead, every P wave, QRS complex and T wave is marked by its
onset `(`, peak (`p`, `N`, `t`) and offset `)` in an annotation file named for the lead (`wfdb.rdann(path, "ii")`).
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

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.errors import IngestError

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
    import wfdb

    try:
        ann = wfdb.rdann(str(Path(source) / record), lead)
    except Exception as e:  # wfdb raises bare OSError/ValueError on missing or corrupt files
        raise IngestError(f"{record}: no readable {lead!r} annotations ({type(e).__name__}: {e})") from e
    return parse_waves(np.asarray(ann.sample), list(ann.symbol))


def expert_factors(waves: list[Wave], signal: np.ndarray, fs_hz: float = FS_HZ) -> pd.DataFrame:
    """One row per QRS of one lead: its peak sample (`r_sample`) and the FACTORS (module docstring) read off the
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
            "rr_s": (after.peak - beat.peak) / fs_hz if after is not None else np.nan,
            "qrs_s": _interval(beat.onset, beat.offset, fs_hz),
            "pr_s": _interval(p.onset if p else None, beat.onset, fs_hz),
            "qt_s": _interval(beat.onset, t.offset if t else None, fs_hz),
            "t_amp": signal[t.peak] - base if t else np.nan,
            "p_amp": signal[p.peak] - base if p else np.nan,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["r_sample", *FACTORS])


def _interval(start: int | None, end: int | None, fs_hz: float) -> float:
    return (end - start) / fs_hz if start is not None and end is not None else np.nan


def _first(waves: list[Wave]) -> Wave | None:
    return waves[0] if waves else None


def _last(waves: list[Wave]) -> Wave | None:
    return waves[-1] if waves else None
