"""Runs left RUNNING by a process that is gone are ended as KILLED by the next training of their partition, on
a real sqlite MLflow store; runs whose process lives, or that another host started, are left alone. A tracker
leaves the process's environment alone: MLflow's retry settings are the entry points' to make."""

from __future__ import annotations

import os
import subprocess
import sys

from pipelines.tracking import tracker_for
from pipelines.tracking_store import HTTP_RETRIES, set_mlflow_http_retries


def test_end_orphans_ends_only_the_runs_of_dead_processes_of_this_host(tmp_path):
    tracker = tracker_for(tmp_path)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = gone.stdout.strip()  # that process has exited, so no process has this pid now (barring reuse)
    live = tracker.start_run("ecg", "b4_c0", {})  # this process: alive
    dead = tracker.start_run("ecg", "b4_c0", {}, tags={"pid": dead_pid})
    elsewhere = tracker.start_run("ecg", "b4_c0", {}, tags={"pid": dead_pid, "host": "another-host"})
    other_config = tracker.start_run("ecg", "b1_c0", {}, tags={"pid": dead_pid})
    unknown = tracker.start_run("ecg", "b4_c0", {}, tags={"pid": ""})
    successor = tracker.start_run("ecg", "b4_c0", {})

    assert tracker.end_orphans("ecg", {"b4_c0": successor}) == [dead]

    status = {run_id: tracker.run_status(run_id) for run_id in (live, dead, elsewhere, other_config, unknown)}
    assert status == {live: "RUNNING", dead: "KILLED", elsewhere: "RUNNING", other_config: "RUNNING",
                      unknown: "RUNNING"}  # fmt: skip
    assert tracker.client.get_run(dead).data.tags["superseded_by"] == successor
    assert tracker.client.get_run(live).data.tags["pid"] == str(os.getpid())
    assert tracker.end_orphans("ecg", {"b4_c0": successor}) == []  # idempotent


def test_a_tracker_leaves_the_environment_alone(tmp_path, monkeypatch):  # issue 25: set up by the entry points
    for name in HTTP_RETRIES:
        monkeypatch.delenv(name, raising=False)
    before = dict(os.environ)
    tracker_for(tmp_path).experiment_id("ecg")
    assert dict(os.environ) == before


def test_the_entry_points_retry_setting_keeps_one_already_made(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the user's, or a test's
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "")  # so that monkeypatch puts back what was there
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR")
    set_mlflow_http_retries()
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
    assert os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == HTTP_RETRIES["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"]
