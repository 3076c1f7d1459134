"""The one Definitions of the code location: every asset, the sweep job and the resources."""

from __future__ import annotations

import dagster as dg

from assets import btc, ecg, models
from assets.partitions import model_partitions
from assets.resources import default_resources
from assets.schedules import weekly_retrain

DATA_ASSETS = [ecg.ecg_raw_records, ecg.ecg_records_validated, ecg.heartbeats,
               btc.btc_raw_bars, btc.btc_bars_validated, btc.price_windows]  # fmt: skip
MODEL_ASSETS = [models.beta_vae_model, models.traversals, models.disentanglement_metrics]
ALL_ASSETS = [*DATA_ASSETS, *MODEL_ASSETS, models.sweep_report]

data_job = dg.define_asset_job("data_job", selection=DATA_ASSETS, description="ingest, validate, segment")
sweep_job = dg.define_asset_job(
    "sweep_job",
    selection=MODEL_ASSETS,
    partitions_def=model_partitions,
    description="train, traverse and score one dataset x config partition",
)

defs = dg.Definitions(
    assets=ALL_ASSETS,
    jobs=[data_job, sweep_job, models.train_grid_job],
    schedules=[weekly_retrain],
    resources=default_resources(),
)
