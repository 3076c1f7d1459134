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
    routine: bool = False  # expected in normal use (a beat at a record's edge, a record listed but not copied)


def rejects_frame(rejects: list[Reject]) -> pd.DataFrame:
    return pd.DataFrame({"item": [r.item for r in rejects], "reason": [r.reason for r in rejects]})


def write_quarantine(path: str | Path, rejects: list[Reject]) -> Path:
    """Write the stage's quarantine list (possibly empty) as CSV with columns item, reason."""
    return write_csv(path, rejects_frame(rejects))


def summarize(rejects: list[Reject], limit: int = 20) -> str:
    """Markdown table of the rejects grouped by reason, with counts and a few example items, for asset metadata
    and logs: unexpected reasons first (rarest first), routine ones after, so one real problem is not lost among
    hundreds of expected entries."""
    if not rejects:
        return "nothing quarantined"
    groups: dict[tuple[bool, str], list[str]] = {}
    for r in rejects:
        groups.setdefault((r.routine, r.reason), []).append(r.item)
    order = sorted(groups, key=lambda k: (k[0], len(groups[k]), k[1]))
    rows = [
        f"| {reason}{' (routine)' if routine else ''} | {len(groups[routine, reason])} | "
        f"{', '.join(groups[routine, reason][:3])}{', …' if len(groups[routine, reason]) > 3 else ''} |"
        for routine, reason in order[:limit]
    ]
    more = [f"| … {len(order) - limit} more reasons | {sum(len(groups[k]) for k in order[limit:])} | |"]
    return "\n".join(["| reason | count | items |", "|---|---|---|", *rows, *(more if len(order) > limit else [])])
