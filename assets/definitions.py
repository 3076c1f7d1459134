"""The one Definitions of the code location: every asset, the sweep job and the resources."""

from __future__ import annotations

import os

import dagster as dg

from assets import distributed, models
from assets.data import DATA_ASSETS
from assets.drift import LATENT_SCORES
from assets.models import MODEL_ASSETS
from assets.recovery import dead_run_sensor
from assets.resources import default_resources
from assets.schedules import weekly_retrain
from assets.sensors import DATA_JOBS, automation_sensor, inbox_sensor

ALL_ASSETS = [*DATA_ASSETS, *MODEL_ASSETS, models.sweep_report, *LATENT_SCORES.values()]

data_job = dg.define_asset_job("data_job", selection=DATA_ASSETS, description="ingest, validate, segment")
sweep_job = dg.define_asset_job(
    "sweep_job",
    selection=MODEL_ASSETS,
    description="train, traverse and score one beta/C config on every dataset",
)


def executor():
    """The default (multiprocess) executor, or on Kubernetes (BVAE_EXECUTOR=k8s, infra/helm) one pod per step."""
    if os.environ.get("BVAE_EXECUTOR") == "k8s":
        from dagster_k8s import k8s_job_executor  # installed in the cluster image only

        return k8s_job_executor
    return None


defs = dg.Definitions(
    assets=ALL_ASSETS,
    jobs=[data_job, *DATA_JOBS.values(), sweep_job, models.train_grid_job, distributed.train_distributed_job],
    schedules=[weekly_retrain],
    sensors=[inbox_sensor, automation_sensor, dead_run_sensor],
    resources=default_resources(),
    executor=executor(),
)
