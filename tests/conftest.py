"""Shared fixtures: the real data in ../shared/data and a tiny workspace (params.yaml shrunk for speed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BVAE_SHARED_DATA", REPO.parent / "shared" / "data"))

# Small enough that the whole graph trains in seconds, large enough that every stage has real work.
TINY = {
    "synthetic_ecg": {"n_patients": 4, "duration_s": 40.0},
    "synthetic_btc": {"days": 6},
    "heartbeat_checks": {"min_train_samples": 50},
    "window_checks": {"min_train_samples": 20},
    "train": {"epochs": 2, "hidden": [32, 16]},
}


def shared(*parts: str) -> Path:
    """A path in the real data folder; missing data fails the test (CI has it), it is never skipped."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"real data not found at {path}: the checkout expects ../shared/data (or set BVAE_SHARED_DATA)")
    return path


def write_params(root: Path, overrides: dict, replace: tuple[str, ...] = ()) -> Path:
    """root/params.yaml: the repository's params with `overrides` merged per section (or replacing the sections
    named in `replace`)."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, values in overrides.items():
        params[section] = values if section in replace else {**params.get(section, {}), **values}
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def project_copy(dest: Path) -> Path:
    """The files a fresh clone would have (tracked and not ignored), copied into `dest` with `git init`."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    for name in files:
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest


@pytest.fixture
def tiny_ws(tmp_path, monkeypatch):
    """A Workspace in a temporary directory with the TINY params; MLflow tracks into it."""
    from pipelines.workspace import Workspace

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    return Workspace(root=tmp_path, params_path=write_params(tmp_path, TINY))
