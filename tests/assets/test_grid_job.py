"""The grid job: one Dagster run trains a dataset's whole beta/C grid in one pass and records a materialization
of every `ecg_beta_vae_model` partition it covers, with the same data version and MLflow links as the asset's own."""

from __future__ import annotations

import dagster as dg

from assets.definitions import defs
from assets.models import MODELS
from assets.partitions import CONFIGS
from assets.resources import TrackingResource, WorkspaceResource
from pipelines import stages
from pipelines.tracking import tracker_for


def test_grid_job_materializes_every_partition_of_the_dataset_it_trains(tiny_ws):
    for stage in (stages.ingest_ecg, stages.validate_ecg, stages.heartbeats):
        assert stage(tiny_ws).passed
    instance = dg.DagsterInstance.ephemeral()
    resources = {
        "workspace": WorkspaceResource(root=str(tiny_ws.root), params=str(tiny_ws.params_path)),
        "tracking": TrackingResource(),
    }
    job = defs.get_job_def("train_grid_job")
    run_config = {"ops": {"train_sweep_grid": {"config": {"datasets": ["ecg"]}}}}
    result = job.execute_in_process(run_config=run_config, resources=resources, instance=instance)
    assert result.success
    ecg_model, btc_model = MODELS["ecg"].model, MODELS["btc"].model
    assert instance.get_materialized_partitions(ecg_model.key) == set(CONFIGS)
    assert instance.get_materialized_partitions(btc_model.key) == set()
    tracker = tracker_for(tiny_ws.root)
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        config = mat.partition
        info = stages.run_info(tiny_ws, "ecg", config)
        assert mat.metadata["mlflow_run_id"].value == info["run_id"]
        assert mat.tags["dagster/data_version"] == mat.metadata["dvc_md5"].value
        assert tracker.client.get_run(info["run_id"]).data.tags["trained_in_grid_of"] == str(len(CONFIGS))
    # run again: nothing retrains, the partitions are recorded as reused
    again = job.execute_in_process(run_config=run_config, resources=resources, instance=instance)
    reused = [e.materialization.metadata["reused_previous_run"].value for e in again.get_asset_materialization_events()]
    assert reused == [True] * len(CONFIGS)
