"""Training faults: a process killed mid-training, a damaged resume or model checkpoint, a full disk, bad data,
a diverging loss, and two runs training the same partition at once. Each ends in a resume or a clear error;
a model already stored is never lost or half-written, the MLflow registry gets no half-trained or duplicate
version, and a re-run completes."""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from pipelines import stages
from pipelines.dataset import TrainingSet
from pipelines.errors import StorageError, TrainingError
from pipelines.tracking import tracker_for
from pipelines.workspace import Workspace
from tests.conftest import write_params
from tests.faults.conftest import PARAMS
from tests.faults.harness import REPO, DataLost, assert_intact, run_cli, run_killed

pytestmark = pytest.mark.fault("training")

CONFIG = "g1000_c10"  # a capacity config: its target C(t) depends on the step count, which a resume must restore


@pytest.fixture
def ws(tmp_path, ecg_data, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    shutil.copytree(ecg_data, tmp_path / "data")
    return Workspace(tmp_path, write_params(tmp_path, PARAMS))


def weights(ws: Workspace) -> dict[str, torch.Tensor]:
    return torch.load(ws.checkpoint("ecg", CONFIG, 0), weights_only=True)["state_dict"]


def versions(ws: Workspace) -> list:
    return tracker_for(ws.root).client.search_model_versions("name='ecg-beta-vae'")


def assert_same_weights(a: dict, b: dict) -> None:
    for key in a:
        if not torch.equal(a[key], b[key]):
            raise DataLost(f"weights differ from an uninterrupted run at {key}")


@pytest.fixture(scope="module")
def reference(tmp_path_factory, ecg_data):
    """Final weights of an uninterrupted training of CONFIG on the same data."""
    root = tmp_path_factory.mktemp("reference")
    shutil.copytree(ecg_data, root / "data")
    ref = Workspace(root, write_params(root, PARAMS))
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        stages.train(ref, "ecg", CONFIG, tracker_for(root))
    return weights(ref)


def test_a_training_killed_mid_run_resumes_and_ends_with_the_same_weights(ws, reference):
    killed = run_killed("epoch", 3, ["train", "--dataset", "ecg", "--config", CONFIG], ws.root)
    assert killed.returncode == -9, killed.stderr[-2000:]
    resume = ws.model_dir("ecg", CONFIG) / "resume.pt"
    assert torch.load(resume, weights_only=False)["epoch"] == 2  # killed after epoch 3, before its checkpoint
    assert not (ws.checkpoint("ecg", CONFIG, 0)).exists() and versions(ws) == []
    rerun = run_cli(["train", "--dataset", "ecg", "--config", CONFIG], ws.root)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "resuming from epoch 2" in rerun.stderr
    assert_same_weights(reference, weights(ws))
    assert len(versions(ws)) == 1 and not resume.exists()
    client = tracker_for(ws.root).client
    run = client.get_run(stages.run_info(ws, "ecg", CONFIG)["run_id"])
    history = client.get_metric_history(run.info.run_id, "loss")
    assert run.info.status == "FINISHED" and [m.step for m in history] == [1, 2, 3, 4]  # the whole history
    # the killed process's run is not left RUNNING: the re-run ended it as KILLED and points to itself
    (orphan,) = [r for r in client.search_runs([run.info.experiment_id], f"tags.config = '{CONFIG}'")
                 if r.info.run_id != run.info.run_id]  # fmt: skip
    assert orphan.info.status == "KILLED" and orphan.data.tags["superseded_by"] == run.info.run_id
    assert f"{orphan.info.run_id} of ecg/{CONFIG} was left RUNNING" in rerun.stderr
    assert_intact(ws.data)


def test_a_damaged_resume_checkpoint_is_set_aside_and_training_starts_afresh(ws, reference):
    resume = ws.model_dir("ecg", CONFIG) / "resume.pt"
    resume.parent.mkdir(parents=True)
    resume.write_bytes(b"PK\x03\x04 half a zip")  # what a torn write of torch.save would look like
    result = stages.train(ws, "ecg", CONFIG, tracker_for(ws.root))
    assert result.counts["epoch"] == 4
    assert (resume.parent / "resume.pt.corrupt").read_bytes() == b"PK\x03\x04 half a zip"  # kept for a look
    assert_same_weights(reference, weights(ws))


def test_disk_full_while_saving_the_model_keeps_the_previous_one_and_registers_nothing(ws, monkeypatch):
    tracker = tracker_for(ws.root)
    first = stages.train(ws, "ecg", CONFIG, tracker)
    stored = (ws.checkpoint("ecg", CONFIG, 0)).read_bytes()
    save = torch.save

    def fill_disk(obj, f, *args, **kwargs):
        if str(f).endswith(".tmp") and "seed0.pt" in str(f):
            with open(f, "wb") as out:
                out.write(b"PK\x03\x04")
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", fill_disk)
    with pytest.raises(StorageError, match=r"seed0\.pt: cannot write \(disk full\); the previous version"):
        stages.train(ws, "ecg", CONFIG, tracker, force=True)
    monkeypatch.undo()
    assert (ws.checkpoint("ecg", CONFIG, 0)).read_bytes() == stored
    assert len(versions(ws)) == 1  # the failed run registered nothing
    runs = tracker.client.search_runs([tracker.experiment_id("ecg")], f"tags.config = '{CONFIG}'")
    assert sorted(r.info.status for r in runs) == ["FAILED", "FINISHED"]
    assert_intact(ws.data)
    assert stages.train(ws, "ecg", CONFIG, tracker).run_id == first.run_id  # still up to date


def test_a_damaged_model_file_is_named_by_evaluation_and_trained_again(ws):
    tracker = tracker_for(ws.root)
    stages.train(ws, "ecg", CONFIG, tracker)
    model = ws.checkpoint("ecg", CONFIG, 0)
    model.write_bytes(model.read_bytes()[:500])  # damaged on disk after it was written
    with pytest.raises(TrainingError, match=r"seed0\.pt: unreadable model checkpoint"):
        stages.traversals(ws, "ecg", CONFIG, tracker)
    again = stages.train(ws, "ecg", CONFIG, tracker)  # not "up to date": the checkpoint does not load
    assert not again.reused and len(versions(ws)) == 2
    assert stages.traversals(ws, "ecg", CONFIG, tracker).output.is_file()
    assert_intact(ws.data)


def test_non_finite_training_data_is_refused_before_any_run_is_recorded(ws):
    data = TrainingSet.load(ws.training_set("ecg"))
    data.x[::5, 7] = np.inf
    data.save(ws.training_set("ecg"))
    with pytest.raises(TrainingError, match=r"ecg training set .*training_set\.npz: \d+ non-finite value"):
        stages.train(ws, "ecg", CONFIG, tracker_for(ws.root))
    assert versions(ws) == [] and not ws.model_dir("ecg", CONFIG).exists()
    assert tracker_for(ws.root).client.search_runs([tracker_for(ws.root).experiment_id("ecg")]) == []


def test_a_diverging_loss_stops_with_the_config_named_and_the_previous_model_kept(ws):
    tracker = tracker_for(ws.root)
    stages.train(ws, "ecg", CONFIG, tracker)
    stored = (ws.checkpoint("ecg", CONFIG, 0)).read_bytes()
    text = ws.params_path.read_text().replace("lr: 0.0005", "lr: 1.0e+30")
    ws.params_path.write_text(text)
    with pytest.raises(
        TrainingError, match=rf"{CONFIG}: loss became (nan|inf) at epoch \d+ \(diverged\); lower train.lr"
    ):
        stages.train(ws, "ecg", CONFIG, tracker)
    assert (ws.checkpoint("ecg", CONFIG, 0)).read_bytes() == stored
    assert len(versions(ws)) == 1
    assert_intact(ws.data)


def test_two_runs_of_the_same_partition_at_once_train_and_register_it_once(ws):
    cmd = [sys.executable, "-m", "pipelines", "train", "--dataset", "ecg", "--config", CONFIG]
    env = {"BVAE_ROOT": str(ws.root), "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen(cmd, cwd=ws.root, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    logs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    assert sum("is up to date" in log for log in logs) == 1, logs  # the second waited, then found it trained
    assert len(versions(ws)) == 1
    tracker = tracker_for(ws.root)
    assert len(tracker.client.search_runs([tracker.experiment_id("ecg")], f"tags.config = '{CONFIG}'")) == 1
    assert_intact(ws.data)
