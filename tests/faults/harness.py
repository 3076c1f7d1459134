"""What every fault case checks afterwards, and how it kills a process at a chosen point.

A case injects one fault, runs the stage, and checks the expected outcome (a clear error naming the item and
reason, a quarantine entry, a retry or a resume). Then, whatever the outcome:
- nothing already stored is lost or changed (`assert_kept`, raising DataLost),
- every output file present is complete and readable, and no temporary file is left (`assert_intact`, raising
  DataCorrupt),
- re-running without the fault completes.
tests/conftest.py counts the cases marked `fault` and prints `faults: N tried, N handled, 0 lost, 0 corrupt`.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]


class DataLost(AssertionError):
    """Something stored before the fault is gone, changed or duplicated."""


class DataCorrupt(AssertionError):
    """An output is partial or unreadable, or a temporary file was left behind."""


def snapshot(root: Path) -> dict[str, str]:
    """md5 of every file under `root` (locks and temporaries aside), by relative path."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        if path.is_file() and not path.name.endswith((".lock", ".tmp")) and ".partial" not in path.parts:
            out[str(path.relative_to(root))] = hashlib.md5(path.read_bytes()).hexdigest()
    return out


def assert_kept(before: dict[str, str], after: dict[str, str], allowed_to_change: tuple[str, ...] = ()) -> None:
    """Every file of `before` is still there, unchanged (except those under the `allowed_to_change` prefixes)."""
    lost = [p for p in before if p not in after and not p.startswith(allowed_to_change)]
    changed = [p for p in before if p in after and before[p] != after[p] and not p.startswith(allowed_to_change)]
    if lost or changed:
        raise DataLost(f"lost {lost}, changed {changed}")


def _read(path: Path) -> None:
    suffix = path.suffix
    if suffix == ".parquet":
        pd.read_parquet(path)
    elif suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            [z[k] for k in z.files]
    elif suffix == ".csv":
        pd.read_csv(path)
    elif suffix == ".json":
        json.loads(path.read_text())
    elif suffix == ".pt":
        import torch

        torch.load(path, map_location="cpu", weights_only=False)


def assert_intact(root: Path) -> None:
    """No temporary file under `root`, and every parquet/npz/csv/json/pt file there reads completely."""
    leftovers = [str(p.relative_to(root)) for p in Path(root).rglob("*.tmp")]
    if leftovers:
        raise DataCorrupt(f"temporary files left behind: {leftovers}")
    for path in Path(root).rglob("*"):
        if path.is_file() and ".partial" not in path.parts:
            try:
                _read(path)
            except Exception as e:
                raise DataCorrupt(f"{path.relative_to(root)} is unreadable: {type(e).__name__}: {e}") from e


def assert_unique(frame: pd.DataFrame, key: str | list[str], what: str) -> None:
    dup = frame.duplicated(key)
    if dup.any():
        raise DataLost(f"{what}: {int(dup.sum())} duplicated {key} (first {frame.loc[dup, key].iloc[0]!r})")


def run_killed(kill_at: str, count: int, args: list[str], cwd: Path, env: dict | None = None, timeout: float = 300):
    """Run `python -m pipelines <args>` in `cwd`, SIGKILLed by tests.faults.killer at the `count`-th `kill_at`
    point (see there); returns the CompletedProcess (returncode -9 when the kill happened)."""
    cmd = [sys.executable, "-m", "tests.faults.killer", kill_at, str(count), *args]
    env = {**os.environ, "BVAE_ROOT": str(cwd), "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def run_cli(args: list[str], cwd: Path, env: dict | None = None, timeout: float = 300):
    env = {**os.environ, "BVAE_ROOT": str(cwd), "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip
