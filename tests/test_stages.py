"""Stages as the CLI and the assets run them: quarantine files, idempotent training, clear errors."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from pipelines import stages
from pipelines.errors import ConfigError, TrackingError
from pipelines.quarantine import Reject, summarize
from pipelines.tracking import tracker_for
from tests.conftest import REPO, TINY, shared, write_params


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


def test_a_failed_blocking_check_says_what_it_saw_against_what_it_needs(ecg_ws):
    n_train = stages.heartbeats(ecg_ws).counts["train"]
    write_params(ecg_ws.root, {**TINY, "heartbeat_checks": {"min_train_samples": 100_000}})
    result = stages.heartbeats(ecg_ws)
    assert not result.passed and result.gate == f"{n_train} train samples, need 100000"
    write_params(ecg_ws.root, {**TINY, "ecg_validation": {"min_good_records": 99}})
    result = stages.validate_ecg(ecg_ws)
    assert not result.passed and result.gate == "4 good records of 4, need 99"


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


def test_mlflow_shows_what_a_user_looks_for(ecg_ws):
    """The experiment opens on its runs (not the GenAI page); the sweep's run has a source and the grid's
    duration; each model version says what it is (config, seed, data md5, then its test-split MIG)."""
    tracker = tracker_for(ecg_ws.root)
    result = stages.train(ecg_ws, "ecg", "b16_c0", tracker)
    stages.metrics(ecg_ws, "ecg", "b16_c0", tracker)
    experiment = tracker.client.get_experiment_by_name("ecg-beta-vae")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert tracker.run_url(result.extra["run_id"]).endswith("?workflowType=machine_learning")  # 3.17's view switch
    [data_input] = tracker.client.get_run(result.extra["run_id"]).inputs.dataset_inputs
    assert json.loads(data_input.dataset.source)["uri"] == "data/ecg/training_set.npz"  # no machine's folders
    parent = tracker.client.get_run(tracker.parent_of(result.extra["run_id"]))
    children = [tracker.client.get_run(r["run_id"]) for r in result.extra["runs"]]
    assert parent.info.status == "FINISHED" and parent.data.tags["mlflow.source.name"] == "pipelines.stages.training"
    assert parent.info.end_time >= max(c.info.end_time for c in children)  # open while its models trained
    key = parent.data.tags["sweep_key"]
    assert tracker.sweep_run("ecg", key, {}, {"mlflow.source.git.commit": "abc"}) == parent.info.run_id  # reused
    assert tracker.client.get_run(parent.info.run_id).data.tags["mlflow.source.git.commit"] == "abc"
    for r in result.extra["runs"]:
        version = tracker.client.get_model_version("ecg-beta-vae", r["model_version"])
        assert version.tags["config"] == "b16_c0" and version.tags["seed"] == str(r["seed"])
        assert version.tags["data_md5"] == result.extra["data_md5"] and "seed " + str(r["seed"]) in version.description
        assert 0.0 <= float(version.tags["test_mig"]) <= 1.0


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


def test_the_quarantine_table_puts_the_one_real_problem_above_hundreds_of_routine_entries():
    rejects = [Reject(f"patient{i:03d}/s{i:04d}", "listed in RECORDS but its .hea file is missing", routine=True)
               for i in range(543)]  # fmt: skip
    rejects.insert(200, Reject("patient104/s0306lre", "not listed in RECORDS"))
    rejects += [Reject(f"r{i}:ii@{i}", "flat (peak-to-peak < 0.1 mV)") for i in range(5)]
    lines = summarize(rejects).splitlines()
    assert lines[2] == "| not listed in RECORDS | 1 | patient104/s0306lre |"
    assert lines[3] == "| flat (peak-to-peak < 0.1 mV) | 5 | r0:ii@0, r1:ii@1, r2:ii@2, … |"
    assert lines[4].startswith("| listed in RECORDS but its .hea file is missing (routine) | 543 | patient000/s0000")
    assert len(lines) == 5


def test_windows_per_day_counts_days_with_bars_not_the_gap_between_them(tiny_ws):
    inbox = tiny_ws.root / "inbox"
    inbox.mkdir()
    shutil.copy(shared("exchange", "20170903_trade.zip"), inbox)
    shutil.copy(shared("exchange", "20170904_trade.zip"), inbox / "20171004_trade.zip")  # a month later
    write_params(tiny_ws.root, {**TINY, "sources": {"ecg": "synthetic", "btc": str(inbox)}})
    for stage in (stages.ingest_btc, stages.validate_btc):
        stage(tiny_ws)
    counts = stages.price_windows(tiny_ws).counts
    assert counts["days_with_bars"] == 2 and counts["windows_per_day"] == 8.0  # 1440 / 180 minutes, each day


def test_great_expectations_does_not_flood_the_log_on_import():
    """GX logs each of ~200 functions at INFO as it registers them on import; a suite run logs none of that."""
    code = (
        "import logging, pandas as pd; logging.basicConfig(level=logging.INFO)\n"
        "from pipelines.validation.expectations import Check, run_suite\n"
        "check = Check('ExpectColumnValuesToNotBeNull', {'column': 'a'}, 'x')\n"
        "r = run_suite('t', pd.DataFrame({'a': [1, 2]}), [check])\n"
        "assert r.success\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Skipping registering function" not in done.stderr + done.stdout
