"""Model assets, one partition per dataset x beta/C config: the trained beta-VAE, its traversals and metrics;
and the sweep report over all partitions."""

import dagster as dg

from assets.btc import price_windows
from assets.ecg import heartbeats
from assets.partitions import model_partitions, partition_parts
from assets.resources import TrackingResource, WorkspaceResource
from assets.results import image_md, materialize_result
from pipelines import stages


class TrainRequest(dg.Config):
    force: bool = False  # retrain even when data and config are unchanged (otherwise the last run is reused)


@dg.asset(
    group_name="models",
    partitions_def=model_partitions,
    deps=[heartbeats, price_windows],
    pool="gpu",
    kinds={"pytorch", "mlflow"},
)
def beta_vae_model(
    context: dg.AssetExecutionContext, config: TrainRequest, workspace: WorkspaceResource, tracking: TrackingResource
) -> dg.MaterializeResult:
    """A beta-VAE trained on the partition's dataset with its beta/C config, logged and registered in MLflow."""
    ws = workspace.workspace()
    dataset, sweep_config = partition_parts(context)
    tracker = tracking.tracker(ws.root)
    result = stages.train(ws, dataset, sweep_config, tracker, force=config.force)
    run_id = result.extra["run_id"]
    link = f"{tracking.ui_url}/{tracker.run_url(run_id)}"
    return materialize_result(
        result,
        mlflow_run_id=run_id,
        mlflow_run=dg.MetadataValue.url(link),
        registered_model=f"{dataset}-beta-vae",
        model_version=result.extra["model_version"],
        data_md5=result.extra["data_md5"],
        reused_previous_run=result.extra["reused"],
    )


@dg.asset(group_name="models", partitions_def=model_partitions, deps=[beta_vae_model], kinds={"matplotlib"})
def traversals(
    context: dg.AssetExecutionContext, workspace: WorkspaceResource, tracking: TrackingResource
) -> dg.MaterializeResult:
    """Each latent swept from -3 to 3 and decoded over one test input (PNG, also an MLflow artifact)."""
    ws = workspace.workspace()
    dataset, config = partition_parts(context)
    result = stages.traversals(ws, dataset, config, tracking.tracker(ws.root))
    return materialize_result(result, preview=image_md(result.output))


@dg.asset(group_name="models", partitions_def=model_partitions, deps=[beta_vae_model])
def disentanglement_metrics(
    context: dg.AssetExecutionContext, workspace: WorkspaceResource, tracking: TrackingResource
) -> dg.MaterializeResult:
    """Reconstruction error, KL per latent, active units and MIG on the test split (also MLflow metrics)."""
    ws = workspace.workspace()
    dataset, config = partition_parts(context)
    return materialize_result(stages.metrics(ws, dataset, config, tracking.tracker(ws.root)))


@dg.asset(group_name="report", deps=[traversals, disentanglement_metrics], kinds={"html"})
def sweep_report(workspace: WorkspaceResource, tracking: TrackingResource) -> dg.MaterializeResult:
    """One HTML page comparing every beta/C run per dataset; sets the MLflow `champion` alias (highest MIG)."""
    ws = workspace.workspace()
    result = stages.report(ws, tracking.tracker(ws.root))
    return materialize_result(result, champions=str(result.extra["champions"]))
