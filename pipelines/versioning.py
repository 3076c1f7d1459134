"""The one module that talks to DVC.

DVC runs from its own environment (default `.venv-dvc/bin/dvc`, or $DVC_BIN, or `dvc` on PATH): its
dependency hydra-core pins antlr4 4.9, which breaks Dagster's asset selection parser (dagster issue 27487).
Calls are serialised with a file lock, because concurrent DVC commands in one repo fail with "Unable to
acquire lock".

`file_md5` computes the hash DVC records for a file output (the md5 of its bytes), so a Dagster data version
or an MLflow tag can carry the same id as `dvc.lock` without shelling out.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
from pathlib import Path

from pipelines.errors import VersioningError

log = logging.getLogger(__name__)


def file_md5(path: str | Path) -> str:
    """md5 of a file's bytes, as DVC 3 records it for a file output."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def dvc_executable(root: str | Path) -> str:
    """The DVC command to run: $DVC_BIN, the project's .venv-dvc, or `dvc` on PATH."""
    candidates = [
        os.environ.get("DVC_BIN"),
        str(Path(root) / ".venv-dvc" / "bin" / "dvc"),
        shutil.which("dvc"),
    ]
    for c in candidates:
        if c and Path(c).is_file():
            return c
    raise VersioningError("DVC not found: run `make install` (creates .venv-dvc) or set DVC_BIN")


def dvc(root: str | Path, *args: str, timeout_s: float = 1800) -> str:
    """Run `dvc <args>` in the repository at `root` (serialised by a lock file); returns stdout. Raises
    VersioningError with DVC's stderr when it fails, or when DVC is not installed."""
    from pipelines.storage import exclusive

    root = Path(root)
    with exclusive(root / ".dvc" / "tmp" / "pipeline.lock", f"dvc {args[0] if args else ''}"):
        proc = subprocess.run(
            [dvc_executable(root), *args], cwd=root, capture_output=True, text=True, timeout=timeout_s
        )
    if proc.returncode != 0:
        raise VersioningError(f"dvc {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc.stdout


# DVC reads dvc.yaml and dvc.lock again (ruamel, pure Python) for every target of a command: ~2 s a target once
# dvc.lock holds a whole demo's 57 stages, so committing its 54 data and model stages by name took 115 s, and the
# whole file at once 12 s. Fewer targets than this cannot be every stage (dvc.yaml has 11 data stages alone), so
# for them DVC is not asked for its stage list.
FEW_STAGES = 10


def commit(root: str | Path, stages: list[str]) -> None:
    """Record the present outputs of `stages` (dvc.yaml names, e.g. "heartbeats", "train@ecg-b4_c0") in dvc.lock
    and the DVC cache, as `dvc repro` would have: the Dagster assets run the same stage code as dvc.yaml's
    commands, so after a Dagster run `dvc status` is clean and `dvc push` has the data to send. When `stages` are
    all of dvc.yaml's (a whole run), dvc.yaml is the one target: the same commit, read once (FEW_STAGES)."""
    if len(set(stages)) >= FEW_STAGES and set(stage_names(root)) <= set(stages):
        dvc(root, "commit", "--force", "--quiet", "dvc.yaml")
    else:
        dvc(root, "commit", "--force", "--quiet", *stages)


def stage_names(root: str | Path) -> list[str]:
    """Every stage of the project's dvc.yaml, matrix stages expanded (e.g. "train@ecg-b4_c0")."""
    return dvc(root, "stage", "list", "--name-only").split()


def is_dvc_project(root: str | Path) -> bool:
    return (Path(root) / ".dvc").is_dir() and (Path(root) / "dvc.yaml").is_file()


def git_commit(root: str | Path) -> str | None:
    """The commit checked out at `root` (with "-dirty" when tracked files changed), or None outside git."""
    try:
        run = lambda *args: subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30)  # noqa: E731
        head = run("rev-parse", "HEAD")
        if head.returncode != 0:
            return None
        dirty = run("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("-dirty" if dirty else "")
