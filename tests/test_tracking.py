"""Runs left RUNNING by a process that is gone are ended as KILLED by the next training of their partition, on
a real sqlite MLflow store; runs whose process lives, or that another host started, are left alone."""

from __future__ import annotations

import os
import subprocess
import sys

from pipelines.tracking import tracker_for


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
