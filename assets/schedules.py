"""Scheduled retraining: every partition of both datasets retrained (forced) in one grid run per week, when
`operations.weekly_retrain` is true in params.yaml (read when the code location loads; off by default, and it can
always be switched on or off in the Dagster UI)."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg

from assets.models import train_grid_job
from pipelines.config import load_params
from pipelines.workspace import Workspace


@dataclass(frozen=True)
class OperationsConfig:
    weekly_retrain: bool = False  # start the weekly schedule switched on
    retrain_cron: str = "0 3 * * 1"  # Mondays 03:00
    timezone: str = "UTC"
    inbox_sensor: bool = True  # start the inbox sensor switched on (assets/sensors.py)
    inbox_interval_s: int = 30  # seconds between its looks at the source directories
    automation: bool = True  # start the automation sensor switched on: new data -> the assets below it re-run


def weekly_retrain_schedule(cfg: OperationsConfig) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="weekly_retrain",
        job=train_grid_job,
        cron_schedule=cfg.retrain_cron,
        execution_timezone=cfg.timezone,
        run_config={"ops": {"train_sweep_grid": {"config": {"force": True}}}},
        default_status=dg.DefaultScheduleStatus.RUNNING if cfg.weekly_retrain else dg.DefaultScheduleStatus.STOPPED,
        description="retrain every dataset x beta/C partition, forced, in one vectorised grid run per dataset",
    )


OPERATIONS = load_params(Workspace.from_env().params_path, "operations", OperationsConfig)
weekly_retrain = weekly_retrain_schedule(OPERATIONS)
