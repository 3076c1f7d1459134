"""Stages as the CLI and the assets run them: quarantine files, idempotent training, clear errors."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
import yaml

from pipelines import stages
from pipelines.errors import ConfigError, TrackingError
from pipelines.tracking import tracker_for
from tests.conftest import REPO


@pytest.fixture
def ecg_ws(tiny_ws):
    for stage in (stages.ingest_ecg, stages.validate_ecg, stages.heartbeats):
        assert stage(tiny_ws).passed
    return tiny_ws


def test_each_dataset_spec_lists_the_datasets_and_data_stages_of_dvc_yaml():
    """dvc.yaml cannot import the specs, so its dataset list and stage commands are checked against them."""
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    assert dvc["vars"][0]["datasets"] == list(stages.DATASETS)
    for spec in stages.DATASET_SPECS.values():
        for name in spec.stages():
            assert dvc["stages"][name]["cmd"] == f"python -m pipelines {name}"


def test_each_data_stage_writes_its_quarantine_file(ecg_ws):
    for name in ("ecg_ingest", "ecg_validation", "heartbeats"):
        assert list(pd.read_csv(ecg_ws.quarantine(name)).columns) == ["item", "reason"]


def test_training_again_on_unchanged_inputs_reuses_the_run_and_force_retrains(ecg_ws):
    tracker = tracker_for(ecg_ws.root)
    first = stages.train(ecg_ws, "ecg", "b16_c0", tracker)
    again = stages.train(ecg_ws, "ecg", "b16_c0", tracker)
    assert again.extra["reused"] and again.extra["run_id"] == first.extra["run_id"]
    assert again.md5 == first.md5
    assert len(tracker.client.search_model_versions("name='ecg-beta-vae'")) == 2  # one per seed
    forced = stages.train(ecg_ws, "ecg", "b16_c0", tracker, force=True)
    assert not forced.extra["reused"] and [r["model_version"] for r in forced.extra["runs"]] == ["3", "4"]
    assert forced.md5 == first.md5  # seeded training reproduces the weights byte for byte


def test_a_partition_is_one_run_and_one_model_per_seed(ecg_ws):
    """train.seeds models of one config in one grid: each its own MLflow run (tagged with its seed, under the
    sweep's run), registered version and checkpoint, and different from the other seeds' models."""
    import torch

    tracker = tracker_for(ecg_ws.root)
    result = stages.train(ecg_ws, "ecg", "b16_c0", tracker)
    runs = result.extra["runs"]
    assert [r["seed"] for r in runs] == [0, 1] and len({r["run_id"] for r in runs}) == 2
    for r in runs:
        run = tracker.client.get_run(r["run_id"])
        assert run.data.tags["seed"] == str(r["seed"]) and run.data.params["seed"] == str(r["seed"])
        assert run.data.tags["config"] == "b16_c0" and run.info.status == "FINISHED"
    weights = [torch.load(ecg_ws.checkpoint("ecg", "b16_c0", s), weights_only=True)["state_dict"] for s in (0, 1)]
    first_layer = next(k for k in weights[0] if k.endswith("weight"))
    assert not torch.equal(weights[0][first_layer], weights[1][first_layer])


def test_changed_config_retrains(ecg_ws):
    tracker = tracker_for(ecg_ws.root)
    first = stages.train(ecg_ws, "ecg", "b1_c0", tracker)
    text = ecg_ws.params_path.read_text().replace("epochs: 2", "epochs: 3")
    ecg_ws.params_path.write_text(text)
    second = stages.train(ecg_ws, "ecg", "b1_c0", tracker)
    assert not second.extra["reused"] and second.extra["run_id"] != first.extra["run_id"]
    assert second.counts["epoch"] == 3


def test_unknown_sweep_config_is_named_in_the_error(ecg_ws):
    with pytest.raises(ConfigError, match="no sweep config named 'b9_c9'"):
        stages.train(ecg_ws, "ecg", "b9_c9", tracker_for(ecg_ws.root))


def test_train_grid_trains_the_sweep_in_one_pass_and_skips_what_is_up_to_date(ecg_ws):
    tracker = tracker_for(ecg_ws.root)
    alone = stages.train(ecg_ws, "ecg", "b1_c0", tracker)
    results = stages.train_grid(ecg_ws, "ecg", tracker)
    names = [c.name for c in stages.sweep(ecg_ws)]
    assert list(results) == names
    assert results["b1_c0"].extra["reused"] and results["b1_c0"].extra["run_id"] == alone.extra["run_id"]
    trained = [results[n] for n in names[1:]]
    assert not any(r.extra["reused"] for r in trained)
    runs = [tracker.client.get_run(r.extra["run_id"]) for r in trained]
    assert len({run.data.tags["mlflow.parentRunId"] for run in runs}) == 1  # one sweep parent
    for run, result in zip(runs, trained, strict=True):
        assert run.info.status == "FINISHED" and run.data.tags["trained_in_grid_of"] == str(len(trained))
        assert run.data.tags["device"] == "cpu" and run.data.tags["torch_version"].startswith("2.")
        assert run.data.tags["data_md5"] == result.extra["data_md5"]
        assert len(tracker.client.get_metric_history(run.info.run_id, "kl")) == 2  # one point per epoch
    versions = tracker.client.search_model_versions("name='ecg-beta-vae'")
    assert sorted(int(v.version) for v in versions) == list(range(1, 2 * len(names) + 1))  # two seeds each
    # a partition trained in the grid is up to date for the per-partition path too
    again = stages.train(ecg_ws, "ecg", names[1], tracker)
    assert again.extra["reused"] and again.extra["run_id"] == results[names[1]].extra["run_id"]


def test_runs_carry_the_git_commit_of_the_code(tmp_path):
    from pipelines.versioning import git_commit
    from tests.conftest import REPO

    commit = git_commit(REPO)
    assert commit is not None and len(commit.removesuffix("-dirty")) == 40
    assert git_commit(tmp_path) is None  # not a repository


def test_a_failure_to_end_runs_left_running_does_not_stop_training(ecg_ws, monkeypatch, caplog):
    tracker = tracker_for(ecg_ws.root)

    def unreachable(*args, **kwargs):
        raise TrackingError("MLflow at sqlite:///x: end_orphans failed (injected)")

    monkeypatch.setattr(tracker, "end_orphans", unreachable)
    with caplog.at_level(logging.WARNING, logger="pipelines.stages"):
        result = stages.train(ecg_ws, "ecg", "b16_c0", tracker)
    assert not result.extra["reused"] and tracker.run_status(result.extra["run_id"]) == "FINISHED"
    assert "could not end the runs that killed trainings left RUNNING (MLflow at sqlite:///x" in caplog.text
