"""Runs whose process died (kill -9, a crash, a closed laptop) stay STARTED in the Dagster instance and keep
their slot in the `gpu` pool, so the next training step waits on them forever ("Step still blocked by limit
for pool gpu"). Dagster's run monitoring cannot see this for `make demo` (in-process runs, no daemon) nor for
the default run launcher of `dagster dev` (it cannot check a run worker's health). This module can: each run's
executor logs its process id in its first engine event ("Executing steps in process (pid: N)"), and a run whose
process no longer exists on this machine is marked failed and its pool slots are freed.

`release_dead_runs` runs before `make demo` starts its runs, and every minute under `make ui` as the
`dead_run_sensor`. It assumes a local instance (the runs' processes on this machine), which is what
`$DAGSTER_HOME` of `make demo` and `make ui` is.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import dagster as dg

from pipelines.storage import process_alive

log = logging.getLogger(__name__)

UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def run_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The process id the run's executor logged (in-process: the run itself; multiprocess: the parent)."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = entry.dagster_event.engine_event_data if entry.dagster_event else None
        pid = data.metadata.get("pid") if data else None
        if pid is not None:
            return int(pid.value)
    return None


def run_process_alive(pid: int, since: float | None = None) -> bool:
    """Whether process `pid` exists and, where /proc tells its start time, started no later than `since` (a run's
    start, epoch seconds): a process that started afterwards only reuses the dead run's pid."""
    if not process_alive(pid):
        return False
    started = _process_start_time(pid)
    return started is None or since is None or started <= since + 1.0


def _process_start_time(pid: int) -> float | None:
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(line for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime"))
    except (OSError, StopIteration, IndexError, ValueError):
        return None  # not Linux, or the process just ended: the pid check alone decides
    return int(boot.split()[1]) + ticks / os.sysconf("SC_CLK_TCK")


def release_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed every unfinished run whose process is gone, free its pool slots; returns their run ids."""
    released = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=UNFINISHED)):
        run = record.dagster_run
        pid = run_pid(instance, run.run_id)
        if pid is None or run_process_alive(pid, record.start_time):
            continue  # not started executing yet (its launcher may still be at work), or still running
        message = (
            f"run {run.run_id} ({run.job_name}) was left {run.status.value} by process {pid}, which no longer exists "
            "(killed or crashed): marked failed and its pool slots freed"
        )
        instance.report_run_failed(run, message)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        log.warning(message)
        released.append(run.run_id)
    return released


@dg.sensor(
    name="dead_run_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Fails runs whose process died (kill -9, crash) and frees their slots in the gpu pool.",
)
def dead_run_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    released = release_dead_runs(context.instance)
    if released:
        return dg.SkipReason(f"released {len(released)} dead run(s): {', '.join(released)}")
    return dg.SkipReason("no dead runs")
