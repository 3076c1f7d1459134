"""The weekly retraining schedule: off unless params.yaml switches it on, and it asks for a forced grid run."""

from __future__ import annotations

import dagster as dg

from assets.definitions import defs
from assets.schedules import OperationsConfig, weekly_retrain_schedule


def test_the_code_location_has_the_schedule_switched_off_by_default():
    schedule = defs.resolve_schedule_def("weekly_retrain")
    assert schedule.job_name == "train_grid_job" and schedule.cron_schedule == "0 3 * * 1"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_switched_on_it_requests_a_forced_retrain_of_every_partition():
    schedule = weekly_retrain_schedule(OperationsConfig(weekly_retrain=True, retrain_cron="0 4 * * 0"))
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    with dg.build_schedule_context() as context:
        [request] = schedule.evaluate_tick(context).run_requests
    assert request.run_config == {"ops": {"train_sweep_grid": {"config": {"force": True}}}}
    assert schedule.cron_schedule == "0 4 * * 0"
