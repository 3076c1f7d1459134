"""Quarantine entries: an item a stage could not use and the reason, kept instead of dropped silently."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipelines.storage import write_csv


@dataclass(frozen=True)
class Reject:
    item: str  # what was set aside: a record, a file, a row ("file.csv:17"), a beat
    reason: str


def rejects_frame(rejects: list[Reject]) -> pd.DataFrame:
    return pd.DataFrame({"item": [r.item for r in rejects], "reason": [r.reason for r in rejects]})


def write_quarantine(path: str | Path, rejects: list[Reject]) -> Path:
    """Write the stage's quarantine list (possibly empty) as CSV with columns item, reason."""
    return write_csv(path, rejects_frame(rejects))


def summarize(rejects: list[Reject], limit: int = 20) -> str:
    """Markdown table of the first `limit` rejects, for asset metadata and logs."""
    if not rejects:
        return "nothing quarantined"
    rows = [f"| {r.item} | {r.reason} |" for r in rejects[:limit]]
    more = [f"| … | {len(rejects) - limit} more |"] if len(rejects) > limit else []
    return "\n".join(["| item | reason |", "|---|---|", *rows, *more])
