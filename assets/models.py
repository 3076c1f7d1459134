"""Model assets, one partition per dataset x beta/C config: the trained beta-VAE, its traversals and metrics;
and the sweep report over all partitions."""

import dagster as dg

from assets.btc import price_windows
from assets.ecg import heartbeats
from assets.partitions import UPDATE_WHEN_UPSTREAM_CHANGES, model_partitions, partition_parts
from assets.resources import TrackingResource, WorkspaceResource
from assets.results import image_md, materialize_result, metadata
from pipelines import stages
from pipelines.workspace import DATASETS


class TrainRequest(dg.Config):
    force: bool = False  # retrain even when data and config are unchanged (otherwise the last run is reused)


@dg.asset(
    group_name="models",
    partitions_def=model_partitions,
    automation_condition=UPDATE_WHEN_UPSTREAM_CHANGES,
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
    return materialize_result(result, **_model_metadata(result, dataset, tracking, tracker))


def _model_metadata(result: stages.StageResult, dataset: str, tracking: TrackingResource, tracker) -> dict:
    run_id = result.extra["run_id"]
    return {
        "mlflow_run_id": run_id,
        "mlflow_run": dg.MetadataValue.url(f"{tracking.ui_url}/{tracker.run_url(run_id)}"),
        "registered_model": f"{dataset}-beta-vae",
        "model_version": result.extra["model_version"],
        "data_md5": result.extra["data_md5"],
        "reused_previous_run": result.extra["reused"],
    }


class GridRequest(dg.Config):
    datasets: list[str] = list(DATASETS)
    configs: list[str] = []  # empty: every config of params.yaml `sweep`
    force: bool = False


@dg.op(pool="gpu", tags={"kind": "pytorch"})
def train_sweep_grid(
    context: dg.OpExecutionContext, config: GridRequest, workspace: WorkspaceResource, tracking: TrackingResource
):
    """Train every beta/C config of each dataset in one vectorised pass and record a materialization of each
    `beta_vae_model` partition it covers (the same metadata and data version as the asset's own)."""
    ws = workspace.workspace()
    tracker = tracking.tracker(ws.root)
    for dataset in config.datasets:
        results = stages.train_grid(ws, dataset, tracker, config.configs or None, force=config.force)
        for name, result in results.items():
            yield dg.AssetMaterialization(
                asset_key=beta_vae_model.key,
                partition=dg.MultiPartitionKey({"dataset": dataset, "config": name}),
                metadata={**metadata(result), **_model_metadata(result, dataset, tracking, tracker)},
                tags={"dagster/data_version": result.md5},
            )
        context.log.info("%s: %d partitions trained or up to date", dataset, len(results))
    yield dg.Output(None)


@dg.job(description="train the whole beta/C grid of each dataset in one vectorised run (pool gpu)")
def train_grid_job():
    train_sweep_grid()


@dg.asset(
    group_name="models",
    partitions_def=model_partitions,
    deps=[beta_vae_model],
    kinds={"matplotlib"},
    automation_condition=UPDATE_WHEN_UPSTREAM_CHANGES,
)
def traversals(
    context: dg.AssetExecutionContext, workspace: WorkspaceResource, tracking: TrackingResource
) -> dg.MaterializeResult:
    """Each latent swept from -3 to 3 and decoded over one test input (PNG, also an MLflow artifact)."""
    ws = workspace.workspace()
    dataset, config = partition_parts(context)
    result = stages.traversals(ws, dataset, config, tracking.tracker(ws.root))
    return materialize_result(result, preview=image_md(result.output))


@dg.asset(
    group_name="models",
    partitions_def=model_partitions,
    deps=[beta_vae_model],
    automation_condition=UPDATE_WHEN_UPSTREAM_CHANGES,
)
def disentanglement_metrics(
    context: dg.AssetExecutionContext, workspace: WorkspaceResource, tracking: TrackingResource
) -> dg.MaterializeResult:
    """Disentanglement metrics against the data set's factors, KL per latent, reconstruction error and linear
    probes on the test split (also MLflow metrics); the latent-vs-factor correlations and prior samples as images."""
    ws = workspace.workspace()
    dataset, config = partition_parts(context)
    result = stages.metrics(ws, dataset, config, tracking.tracker(ws.root))
    correlations, prior = result.extra["figures"]
    return materialize_result(result, factor_correlations=image_md(correlations), prior_samples=image_md(prior))


@dg.asset(
    group_name="report",
    deps=[traversals, disentanglement_metrics],
    kinds={"html"},
    automation_condition=UPDATE_WHEN_UPSTREAM_CHANGES,
)
def sweep_report(workspace: WorkspaceResource, tracking: TrackingResource) -> dg.MaterializeResult:
    """One HTML page comparing every beta/C run per dataset; sets the MLflow `champion` alias (highest MIG)."""
    ws = workspace.workspace()
    result = stages.report(ws, tracking.tracker(ws.root))
    figures = result.extra["figures"]
    return materialize_result(
        result,
        champions=str(result.extra["champions"]),
        recon_vs_disentanglement=image_md(figures["scatter"]),
        kl_per_latent=image_md(figures["kl_heatmap"]),
    )
