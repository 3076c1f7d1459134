"""A run killed with SIGKILL while it holds the gpu pool's slot: the next run would wait for that slot forever.
release_dead_runs finds it by its dead process, fails it and frees the slot, and a re-run completes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import dagster as dg

from assets.recovery import dead_run_sensor, release_dead_runs, run_pid
from tests.conftest import REPO

POOLED = textwrap.dedent(
    """
    import os, time
    import dagster as dg

    @dg.asset(pool="gpu")
    def pooled():
        time.sleep(float(os.environ.get("SLEEP_S", "0")))

    if __name__ == "__main__":
        dg.materialize([pooled], instance=dg.DagsterInstance.get())
    """
)


def claimed(instance: dg.DagsterInstance) -> list[str]:
    """Run ids holding a slot of the gpu pool."""
    info = instance.event_log_storage.get_concurrency_info("gpu")
    return [slot.run_id for slot in info.claimed_slots]


def test_a_killed_run_is_failed_its_slot_freed_and_the_rerun_completes(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "infra" / "dagster.yaml", home / "dagster.yaml")  # the project's instance: gpu pool of 1
    script = tmp_path / "pooled.py"
    script.write_text(POOLED)
    env = {**os.environ, "DAGSTER_HOME": str(home), "SLEEP_S": "600"}
    # open the instance before the run's process does: two processes creating the same fresh sqlite
    # storages at once can both stamp its alembic version, and every later open then fails
    instance = dg.DagsterInstance.from_config(str(home))
    proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path)
    try:
        with instance:
            deadline = time.monotonic() + 120
            while not claimed(instance):
                assert proc.poll() is None and time.monotonic() < deadline, "the run never took the pool's slot"
                time.sleep(0.2)
            [run_id] = claimed(instance)
            assert run_pid(instance, run_id) == proc.pid
            assert release_dead_runs(instance) == []  # alive: left alone

            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED  # what the kill leaves
            assert claimed(instance) == [run_id]

            with dg.build_sensor_context(instance=instance) as context:
                skip = dead_run_sensor(context)
            assert run_id in skip.skip_message
            assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.FAILURE
            assert claimed(instance) == []
            failure = instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[-1]
            assert "no longer exists" in failure.dagster_event.message and str(proc.pid) in failure.message

        # the re-run, in a fresh process as `make demo` would be, takes the slot and finishes
        rerun = subprocess.run([sys.executable, str(script)], env={**env, "SLEEP_S": "0"}, timeout=120)
        assert rerun.returncode == 0
        with dg.DagsterInstance.from_config(str(home)) as instance:
            latest = instance.get_run_records(limit=1)[0].dagster_run
            assert latest.run_id != run_id and latest.status == dg.DagsterRunStatus.SUCCESS
            assert release_dead_runs(instance) == []  # finished runs are never touched
    finally:
        if proc.poll() is None:
            proc.kill()


def test_make_creates_the_instance_once_when_ui_and_demo_start_together(tmp_path):
    """`make ui` and `make demo` started together on a fresh clone: three makes of the instance at once leave
    storages that open (unlocked, two processes creating them both stamp alembic and every later open fails)."""
    home = tmp_path / "dagster_home"
    cmd = ["make", "-s", "-C", str(REPO), f"DAGSTER_HOME={home}", f"{home}/dagster.yaml"]
    makes = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(3)]
    outs = [make.communicate(timeout=120)[0] for make in makes]
    assert [make.returncode for make in makes] == [0, 0, 0], outs
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_runs() == []  # the run storage opens
        assert instance.event_log_storage.get_concurrency_info("gpu").limit == 1  # the project's pool limit
        assert instance.schedule_storage.all_instigator_state() == []  # the storage a double stamp broke
