"""DVC and Dagster together, in a fresh copy of the project: after Dagster runs, `dvc status` is clean and
`dvc repro` has nothing to do; the DVC md5 of a training set is its Dagster data version and a tag of the MLflow
runs trained from it; push, pull and checkout work against the default local remote; checking out an older data
version and re-materializing reproduces that version's model metrics. A failed DVC command is a VersioningError,
which an asset reports in its metadata instead of failing."""

from __future__ import annotations

import json
import shutil
import subprocess

import dagster as dg
import pytest
import yaml

from assets.definitions import ALL_ASSETS
from assets.demo import materialize_all
from assets.models import MODELS
from assets.resources import TrackingResource, WorkspaceResource
from pipelines import versioning
from pipelines.errors import VersioningError
from pipelines.tracking import tracker_for
from pipelines.versioning import FEW_STAGES, commit, dvc, dvc_executable, file_md5, stage_names
from tests.conftest import REPO, TINY, ludb_copy, project_copy, write_params

CONFIG = "b16_c0"  # one partition of the repository's sweep keeps this test short
BEATS = "data/ecg/training_set.npz"
MODEL_NODE = MODELS["ecg"].model.key.to_python_identifier()
PARAMS = {**TINY, "sweep": {CONFIG: yaml.safe_load((REPO / "params.yaml").read_text())["sweep"][CONFIG]}}


def git(root, *args: str) -> str:
    cmd = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org", *args]
    return subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=True).stdout


def lock_md5(root, stage: str, path: str) -> str:
    outs = yaml.safe_load((root / "dvc.lock").read_text())["stages"][stage]["outs"]
    return next(o["md5"] for o in outs if o["path"] == path)


def ecg_metrics(root) -> dict:
    return json.loads((root / "data" / "eval" / "ecg" / CONFIG / "metrics.json").read_text())


@pytest.fixture
def project(tmp_path, monkeypatch):
    try:
        monkeypatch.setenv("DVC_BIN", dvc_executable(REPO))
    except Exception as e:
        pytest.fail(f"DVC is part of `make install` and must be present: {e}")
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID", "BVAE_PARAMS"):
        monkeypatch.delenv(name, raising=False)
    root = project_copy(tmp_path / "repo")
    ludb = ludb_copy(tmp_path / "ludb", ("data/1", "data/2"))  # dvc.yaml builds every dataset: LUDB must be there
    write_params(root, {**PARAMS, "sources": {"ludb": str(ludb)}}, replace=("sweep",))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "fresh clone")
    return root


def test_after_dagster_runs_dvc_is_clean_and_an_old_data_version_reproduces_its_metrics(project):
    root = project
    instance = dg.DagsterInstance.ephemeral()
    resources = {"workspace": WorkspaceResource(root=str(root)), "tracking": TrackingResource()}
    runs = materialize_all(resources, instance=instance, partition_keys=[CONFIG])
    assert all(r.success for r in runs)

    # dvc sees exactly what Dagster wrote
    assert "up to date" in dvc(root, "status")
    assert "Running stage" not in dvc(root, "repro")
    plots = json.loads(dvc(root, "plots", "show", "--json"))  # the training curves, one plot per seed
    assert not plots.get("errors"), plots["errors"]
    assert {f"data/history/ecg/{CONFIG}/seed{seed}.csv" for seed in (0, 1)} <= set(plots["data"])
    v1_md5 = lock_md5(root, "heartbeats", BEATS)
    assert v1_md5 == file_md5(root / BEATS)
    record = instance.get_latest_data_version_record(dg.AssetKey("heartbeats"))
    assert record.asset_materialization.tags["dagster/data_version"] == v1_md5
    grid = runs[1].asset_materializations_for_node("train_sweep_grid")  # the grid job trained both datasets
    [model] = [m for m in grid if m.asset_key == MODELS["ecg"].model.key]
    run_id = model.metadata["mlflow_run_id"].value
    assert tracker_for(root).client.get_run(run_id).data.tags["data_md5"] == v1_md5

    # push to the default remote, lose the cache and the file, pull them back
    dvc(root, "push")
    assert any((root / "dvc-remote").rglob("*")), "the default remote (dvc-remote/) received nothing"
    shutil.rmtree(root / ".dvc" / "cache")
    (root / BEATS).unlink()
    dvc(root, "pull")
    assert file_md5(root / BEATS) == v1_md5

    git(root, "add", "dvc.lock", "params.yaml")
    git(root, "commit", "-q", "-m", "data v1")
    v1 = ecg_metrics(root)

    # a second data version: other synthetic patients
    sources = yaml.safe_load((root / "params.yaml").read_text())["sources"]  # LUDB's copy stays the source
    v2 = {**PARAMS, "sources": sources, "synthetic_ecg": {**TINY["synthetic_ecg"], "seed": 1}}
    write_params(root, v2, replace=("sweep",))
    assert all(r.success for r in materialize_all(resources, instance=instance, partition_keys=[CONFIG]))
    assert "up to date" in dvc(root, "status")
    assert lock_md5(root, "heartbeats", BEATS) != v1_md5
    assert ecg_metrics(root)["recon_rmse"] != v1["recon_rmse"]
    git(root, "commit", "-q", "-am", "data v2")
    diff = json.loads(dvc(root, "metrics", "diff", "HEAD~1", "--json"))  # the committed locks make a history
    change = diff[f"data/eval/ecg/{CONFIG}/metrics.json"]["recon_rmse"]
    assert change["old"] == v1["recon_rmse"] and change["new"] == ecg_metrics(root)["recon_rmse"]

    # roll back: the old lock file, its data from the cache, the ECG models re-materialized (forced retraining)
    git(root, "checkout", "HEAD~1", "--", "dvc.lock", "params.yaml")
    dvc(root, "checkout")
    assert file_md5(root / BEATS) == v1_md5
    force = {"ops": {MODEL_NODE: {"config": {"force": True}}}}
    again = dg.materialize(
        ALL_ASSETS, selection=list(MODELS["ecg"]), partition_key=CONFIG, resources=resources, instance=instance,
        run_config=force,
    )  # fmt: skip
    assert again.success
    assert (
        again.asset_materializations_for_node(MODELS["ecg"].model.key.to_python_identifier())[0]
        .metadata["reused_previous_run"]
        .value
        is False
    )
    reproduced = ecg_metrics(root)
    for key in ("recon_rmse", "kl_total", "mig", "active_units"):
        assert reproduced[key] == pytest.approx(v1[key], rel=1e-6), key


def test_a_failed_dvc_command_is_a_versioning_error_and_a_warning_in_the_assets_metadata(tmp_path, monkeypatch):
    fake = tmp_path / "fake-dvc"  # a DVC that fails as a broken cache would
    fake.write_text("#!/bin/sh\necho 'ERROR: unexpected error - the cache is corrupt' >&2\nexit 255\n")
    fake.chmod(0o755)
    monkeypatch.setenv("DVC_BIN", str(fake))
    (tmp_path / ".dvc").mkdir()
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    reason = "dvc commit --force --quiet heartbeats failed (255): ERROR: unexpected error - the cache is corrupt"
    with pytest.raises(VersioningError) as error:
        commit(tmp_path, ["heartbeats"])
    assert str(error.value) == reason
    assert WorkspaceResource(root=str(tmp_path)).commit_to_dvc("heartbeats") == {"dvc_commit": f"failed: {reason}"}


def test_committing_every_stage_reads_dvc_yaml_once_and_writes_the_lock_per_stage_commits_write(tmp_path, monkeypatch):
    monkeypatch.setenv("DVC_BIN", dvc_executable(REPO))
    names = [f"s{i:02d}" for i in range(FEW_STAGES + 2)]
    stages = {"stages": {"make": {"matrix": {"n": names}, "cmd": "echo ${item.n} > ${item.n}.txt",
                                  "outs": ["${item.n}.txt"]}}}  # fmt: skip
    roots = []
    for name in ("whole", "by_name"):
        root = tmp_path / name
        root.mkdir()
        git(root, "init", "-q")
        subprocess.run([dvc_executable(REPO), "init", "-q"], cwd=root, check=True)  # (dvc() locks inside .dvc/)
        (root / "dvc.yaml").write_text(yaml.safe_dump(stages))
        for n in names:  # the outputs, written as a Dagster asset writes them: not by dvc repro
            (root / f"{n}.txt").write_text(f"{n}\n")
        roots.append(root)
    every = [f"make@{n}" for n in names]
    assert stage_names(roots[0]) == every
    calls = []
    monkeypatch.setattr(versioning, "dvc", lambda root, *args, **kw: calls.append(args) or dvc(root, *args, **kw))
    commit(roots[0], every)
    assert calls[-1] == ("commit", "--force", "--quiet", "dvc.yaml")  # every stage: one target
    dvc(roots[1], "commit", "--force", "--quiet", *every)  # what commit did before, stage by stage
    assert (roots[0] / "dvc.lock").read_text() == (roots[1] / "dvc.lock").read_text()
    assert "up to date" in dvc(roots[0], "status")

    (roots[0] / "s00.txt").write_text("changed\n")  # all but one stage: by name, the other stays as it was
    commit(roots[0], every[1:])
    assert calls[-1] == ("commit", "--force", "--quiet", *every[1:])
    assert "make@s00" in dvc(roots[0], "status")
