"""Scheduled retraining: every partition of both datasets retrained (forced) in one grid run per week, when
`operations.weekly_retrain` is true in params.yaml (read when the code location loads; off by default, and it can
always be switched on or off in the Dagster UI)."""

from __future__ import annotations

import dagster as dg

from assets.models import train_grid_job
from pipelines.params import OperationsConfig
from pipelines.workspace import Workspace


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


OPERATIONS = Workspace.from_env().params.operations
weekly_retrain = weekly_retrain_schedule(OPERATIONS)
