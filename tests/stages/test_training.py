"""The training stage: one MLflow run and model per seed, idempotent, phases that fail cleanly."""

from __future__ import annotations

import json
import logging

import pytest

from pipelines import stages
from pipelines.errors import ConfigError, TrackingError
from pipelines.tracking import tracker_for
from tests.conftest import REPO


def test_training_again_on_unchanged_inputs_reuses_the_run_and_force_retrains(ecg_ws):
    tracker = tracker_for(ecg_ws.root)
    first = stages.train(ecg_ws, "ecg", "b16_c0", tracker)
    again = stages.train(ecg_ws, "ecg", "b16_c0", tracker)
    assert again.reused and again.run_id == first.run_id
    assert again.md5 == first.md5
    assert len(tracker.client.search_model_versions("name='ecg-beta-vae'")) == 2  # one per seed
    forced = stages.train(ecg_ws, "ecg", "b16_c0", tracker, force=True)
    assert not forced.reused and [r["model_version"] for r in forced.runs] == ["3", "4"]
    assert forced.md5 == first.md5  # seeded training reproduces the weights byte for byte


def test_a_partition_is_one_run_and_one_model_per_seed(ecg_ws):
    """train.seeds models of one config in one grid: each its own MLflow run (tagged with its seed, under the
    sweep's run), registered version and checkpoint, and different from the other seeds' models."""
    import torch

    tracker = tracker_for(ecg_ws.root)
    result = stages.train(ecg_ws, "ecg", "b16_c0", tracker)
    runs = result.runs
    assert [r["seed"] for r in runs] == [0, 1] and len({r["run_id"] for r in runs}) == 2
    for r in runs:
        run = tracker.client.get_run(r["run_id"])
        assert run.data.tags["seed"] == str(r["seed"]) and run.data.params["seed"] == str(r["seed"])
        assert run.data.tags["config"] == "b16_c0" and run.info.status == "FINISHED"
    weights = [torch.load(ecg_ws.checkpoint("ecg", "b16_c0", s), weights_only=True)["state_dict"] for s in (0, 1)]
    first_layer = next(k for k in weights[0] if k.endswith("weight"))
    assert not torch.equal(weights[0][first_layer], weights[1][first_layer])


def test_mlflow_shows_what_a_user_looks_for(ecg_ws):
    """The experiment opens on its runs (not the GenAI page); the sweep's run has a source and the grid's
    duration; each model version says what it is (config, seed, data md5, then its test-split MIG)."""
    tracker = tracker_for(ecg_ws.root)
    result = stages.train(ecg_ws, "ecg", "b16_c0", tracker)
    stages.metrics(ecg_ws, "ecg", "b16_c0", tracker)
    experiment = tracker.client.get_experiment_by_name("ecg-beta-vae")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert tracker.run_url(result.run_id).endswith("?workflowType=machine_learning")  # 3.17's view switch
    [data_input] = tracker.client.get_run(result.run_id).inputs.dataset_inputs
    assert json.loads(data_input.dataset.source)["uri"] == "data/ecg/training_set.npz"  # no machine's folders
    parent = tracker.client.get_run(tracker.parent_of(result.run_id))
    children = [tracker.client.get_run(r["run_id"]) for r in result.runs]
    assert parent.info.status == "FINISHED" and parent.data.tags["mlflow.source.name"] == "pipelines.stages.training"
    assert parent.info.end_time >= max(c.info.end_time for c in children)  # open while its models trained
    key = parent.data.tags["sweep_key"]
    assert tracker.sweep_run("ecg", key, {}, {"mlflow.source.git.commit": "abc"}) == parent.info.run_id  # reused
    assert tracker.client.get_run(parent.info.run_id).data.tags["mlflow.source.git.commit"] == "abc"
    for r in result.runs:
        version = tracker.client.get_model_version("ecg-beta-vae", r["model_version"])
        assert version.tags["config"] == "b16_c0" and version.tags["seed"] == str(r["seed"])
        assert version.tags["data_md5"] == result.data_md5 and "seed " + str(r["seed"]) in version.description
        assert 0.0 <= float(version.tags["test_mig"]) <= 1.0


def test_changed_config_retrains(ecg_ws):
    tracker = tracker_for(ecg_ws.root)
    first = stages.train(ecg_ws, "ecg", "b1_c0", tracker)
    text = ecg_ws.params_path.read_text().replace("epochs: 2", "epochs: 3")
    ecg_ws.params_path.write_text(text)
    second = stages.train(ecg_ws, "ecg", "b1_c0", tracker)
    assert not second.reused and second.run_id != first.run_id
    assert second.counts["epoch"] == 3


def test_unknown_sweep_config_is_named_in_the_error(ecg_ws):
    with pytest.raises(ConfigError, match="no sweep config named 'b9_c9'"):
        stages.train(ecg_ws, "ecg", "b9_c9", tracker_for(ecg_ws.root))


def test_train_grid_trains_the_sweep_in_one_pass_and_skips_what_is_up_to_date(ecg_ws):
    tracker = tracker_for(ecg_ws.root)
    alone = stages.train(ecg_ws, "ecg", "b1_c0", tracker)
    results = stages.train_grid(ecg_ws, "ecg", tracker)
    names = [c.name for c in ecg_ws.params.sweep]
    assert list(results) == names
    assert results["b1_c0"].reused and results["b1_c0"].run_id == alone.run_id
    trained = [results[n] for n in names[1:]]
    assert not any(r.reused for r in trained)
    runs = [tracker.client.get_run(r.run_id) for r in trained]
    assert len({run.data.tags["mlflow.parentRunId"] for run in runs}) == 1  # one sweep parent
    for run, result in zip(runs, trained, strict=True):
        assert run.info.status == "FINISHED" and run.data.tags["trained_in_grid_of"] == str(len(trained))
        assert run.data.tags["device"] == "cpu" and run.data.tags["torch_version"].startswith("2.")
        assert run.data.tags["data_md5"] == result.data_md5
        assert len(tracker.client.get_metric_history(run.info.run_id, "kl")) == 2  # one point per epoch
    versions = tracker.client.search_model_versions("name='ecg-beta-vae'")
    assert sorted(int(v.version) for v in versions) == list(range(1, 2 * len(names) + 1))  # two seeds each
    # a partition trained in the grid is up to date for the per-partition path too
    again = stages.train(ecg_ws, "ecg", names[1], tracker)
    assert again.reused and again.run_id == results[names[1]].run_id


def test_runs_carry_the_git_commit_of_the_code(tmp_path):
    from pipelines.versioning import git_commit

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
    assert not result.reused and tracker.run_status(result.run_id) == "FINISHED"
    assert "could not end the runs that killed trainings left RUNNING (MLflow at sqlite:///x" in caplog.text


def test_a_finished_training_is_read_back_without_training_again(ecg_ws):
    tracker = tracker_for(ecg_ws.root)
    trained = stages.train(ecg_ws, "ecg", "b16_c0", tracker)
    runs_before = len(tracker.client.search_runs([tracker.client.get_run(trained.run_id).info.experiment_id]))
    read = stages.trained_result(ecg_ws, "ecg", "b16_c0")
    assert read.reused and not trained.reused
    assert (read.output, read.counts, read.run_id, read.model_version, read.data_md5, read.runs) == (
        trained.output, trained.counts, trained.run_id, trained.model_version, trained.data_md5, trained.runs,
    )  # fmt: skip
    assert read.output == ecg_ws.checkpoint("ecg", "b16_c0", 0) and read.counts["epoch"] == ecg_ws.params.train.epochs
    assert len(tracker.client.search_runs([tracker.client.get_run(read.run_id).info.experiment_id])) == runs_before


def test_a_diverged_partition_fails_with_its_reason_and_the_others_are_recorded(ecg_ws):
    from pipelines.errors import PartialTrainingError
    from tests.conftest import TINY, write_params

    sweep = {"b1_c0": {"kind": "beta", "beta": 1.0}, "wild": {"kind": "beta", "beta": 1e38}}
    write_params(ecg_ws.root, {**TINY, "sweep": sweep}, replace=("sweep",))
    tracker = tracker_for(ecg_ws.root)
    with pytest.raises(PartialTrainingError, match=r"ecg: wild/seed0: loss became inf at epoch 1 \(diverged\)") as e:
        stages.train_grid(ecg_ws, "ecg", tracker)
    assert list(e.value.results) == ["b1_c0"] and (ecg_ws.model_dir("ecg", "b1_c0") / "run.json").is_file()
    assert not (ecg_ws.model_dir("ecg", "wild") / "run.json").exists()
    runs = tracker.client.search_runs([tracker.experiment_id("ecg")])
    status = {(r.data.tags.get("config"), r.data.tags.get("seed")): r for r in runs if "seed" in r.data.tags}
    assert {k: r.info.status for k, r in status.items()} == {
        ("b1_c0", "0"): "FINISHED",
        ("b1_c0", "1"): "FINISHED",
        ("wild", "0"): "FAILED",
        ("wild", "1"): "FAILED",
    }
    assert status[("wild", "1")].data.tags["failure_reason"].startswith("wild/seed1: loss became inf at epoch 1")
    assert stages.train(ecg_ws, "ecg", "b1_c0", tracker).reused  # the finished partition is up to date
