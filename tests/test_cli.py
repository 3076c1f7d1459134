"""The command lines users run: `dagster definitions validate`, string asset selection, `dvc repro`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipelines.evaluation.scores import ORACLE
from pipelines.versioning import dvc, dvc_executable, file_md5
from tests.conftest import REPO, TINY, ludb_copy, project_copy, write_params

BIN = Path(sys.executable).parent


def _env(root: Path, **extra) -> dict:
    (root / ".dagster").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "BVAE_", "DAGSTER_"))}
    return {**env, "BVAE_ROOT": str(root), "DAGSTER_HOME": str(root / ".dagster"),
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", **extra}  # fmt: skip


def test_dagster_definitions_validate(tmp_path):
    write_params(tmp_path, TINY)
    proc = subprocess.run([BIN / "dagster", "definitions", "validate", "-m", "assets"], cwd=REPO,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Validation successful" in proc.stderr + proc.stdout


def test_string_asset_selection_materializes_heartbeats_and_its_ancestors(tmp_path):
    """Guards the antlr4 pitfall: with hydra's antlr4 4.9 installed, --select fails with a TypeError."""
    write_params(tmp_path, TINY)
    proc = subprocess.run(
        [BIN / "dagster", "asset", "materialize", "-m", "assets", "--select", "*heartbeats"],
        cwd=REPO, env=_env(tmp_path, BVAE_PARAMS=str(tmp_path / "params.yaml")),
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "data" / "ecg" / "training_set.npz").is_file()
    assert not (tmp_path / "data" / "btc").exists()  # the selection held only the ECG branch


def test_dvc_repro_runs_every_stage_in_a_fresh_copy_and_a_rerun_is_a_no_op(tmp_path, monkeypatch):
    try:
        monkeypatch.setenv("DVC_BIN", dvc_executable(REPO))
    except Exception as e:
        pytest.fail(f"DVC is part of `make install` and must be present: {e}")
    root = project_copy(tmp_path / "repo")
    assert (root / ".dvc" / "config").is_file(), "dvc init must be committed, not generated at run time"
    sweep = {"g1000_c25": {"kind": "capacity", "gamma": 1000.0, "capacity_nats": 25.0}}
    ludb = ludb_copy(tmp_path / "ludb", ("data/1", "data/2"))  # dvc.yaml builds every dataset: LUDB must be there
    write_params(root, {**TINY, "sweep": sweep, "sources": {"ludb": str(ludb)}}, replace=("sweep",))
    for name, value in _env(root).items():
        monkeypatch.setenv(name, value)
    for name in ("BVAE_PARAMS", "MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    dvc(root, "repro", timeout_s=900)  # pipelines.versioning raises VersioningError with DVC's stderr on failure
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    assert {"ecg-generate", "btc-generate", "heartbeats", "windows", "ludb-beats", "train@ecg-g1000_c25",
            "traversals@btc-g1000_c25", "metrics@ludb-g1000_c25", "report"} <= set(lock)  # fmt: skip
    beats_out = next(o for o in lock["heartbeats"]["outs"] if o["path"] == "data/ecg/training_set.npz")
    assert beats_out["md5"] == file_md5(root / "data" / "ecg" / "training_set.npz")
    table = pd.read_csv(root / "data" / "report" / "sweep.csv")  # one model row and two baselines per dataset,
    assert sorted(table.config) == sorted(["g1000_c25", "PCA-10", "FastICA-10"] * 3 + [ORACLE])  # LUDB's ceiling
    assert "Running stage" not in dvc(root, "repro")
    assert "up to date" in dvc(root, "status")
