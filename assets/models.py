"""Model assets, one family per dataset, each partitioned by beta/C config: the trained beta-VAE, its traversals
and metrics; and the sweep report over all of them. A dataset's models depend on its own training set only, so new
ECG data retrain the ECG partitions and leave the exchange ones alone (and the reverse)."""

from typing import NamedTuple

import dagster as dg

from assets.data import DATA
from assets.partitions import UPDATE_WHEN_UPSTREAM_CHANGES, config_partitions
from assets.resources import TrackingResource, WorkspaceResource
from assets.results import image_md, materialize_result, metadata
from pipelines import stages
from pipelines.errors import PartialTrainingError
from pipelines.stages import model_stage

# On Kubernetes (infra/helm, the k8s executor), a training step's pod asks for a GPU node; inert elsewhere.
GPU_POD = {
    "dagster-k8s/config": {
        "container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}},
        "pod_spec_config": {
            "node_selector": {"nvidia.com/gpu.present": "true"},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        },
    }
}


class TrainRequest(dg.Config):
    force: bool = False  # retrain even when data and config are unchanged (otherwise the last run is reused)


class ModelAssets(NamedTuple):
    """A dataset's model assets, each partitioned by beta/C config."""

    model: dg.AssetsDefinition
    traversals: dg.AssetsDefinition
    metrics: dg.AssetsDefinition


def _model_asset(dataset: str, training_set: dg.AssetsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"{dataset}_beta_vae_model",
        group_name=f"{dataset}_models",
        partitions_def=config_partitions,
        automation_condition=UPDATE_WHEN_UPSTREAM_CHANGES,
        deps=[training_set],
        pool="gpu",
        op_tags=GPU_POD,
        kinds={"pytorch", "mlflow"},
    )
    def model(
        context: dg.AssetExecutionContext,
        config: TrainRequest,
        workspace: WorkspaceResource,
        tracking: TrackingResource,
    ) -> dg.MaterializeResult:
        """A beta-VAE trained on the dataset with the partition's beta/C config, logged and registered in MLflow."""
        ws = workspace.workspace()
        tracker = tracking.tracker(ws.root)
        result = stages.train(ws, dataset, context.partition_key, tracker, force=config.force)
        dvc = workspace.commit_to_dvc(model_stage("train", dataset, context.partition_key))
        return materialize_result(result, **_model_metadata(result, dataset, tracking, tracker), **dvc)

    return model


def model_assets(dataset: str, training_set: dg.AssetsDefinition) -> ModelAssets:
    """The model, traversals and metrics assets of one dataset, partitioned by beta/C config."""
    group = f"{dataset}_models"
    model = _model_asset(dataset, training_set)

    @dg.asset(
        name=f"{dataset}_disentanglement_metrics",
        group_name=group,
        partitions_def=config_partitions,
        deps=[model],
        automation_condition=UPDATE_WHEN_UPSTREAM_CHANGES,
    )
    def disentanglement_metrics(
        context: dg.AssetExecutionContext, workspace: WorkspaceResource, tracking: TrackingResource
    ) -> dg.MaterializeResult:
        """Disentanglement metrics against the data set's factors, KL per latent, reconstruction error and linear
        probes on the test split, for every seed, with their median and IQR and the seeds' UDR (also MLflow
        metrics); the median seed's latent-vs-factor correlations and prior samples as images."""
        ws = workspace.workspace()
        result = stages.metrics(ws, dataset, context.partition_key, tracking.tracker(ws.root))
        dvc = workspace.commit_to_dvc(model_stage("metrics", dataset, context.partition_key))
        return materialize_result(result, factor_correlations=image_md(result.figures.correlations),
                                  prior_samples=image_md(result.figures.prior), **dvc)  # fmt: skip

    @dg.asset(
        name=f"{dataset}_traversals",
        group_name=group,
        partitions_def=config_partitions,
        deps=[disentanglement_metrics],  # which seed to draw: the one with the median score
        kinds={"matplotlib"},
        automation_condition=UPDATE_WHEN_UPSTREAM_CHANGES,
    )
    def traversals(
        context: dg.AssetExecutionContext, workspace: WorkspaceResource, tracking: TrackingResource
    ) -> dg.MaterializeResult:
        """Each latent of the partition's median seed swept from -3 to 3 and decoded over one test input (PNG, also
        an MLflow artifact)."""
        ws = workspace.workspace()
        result = stages.traversals(ws, dataset, context.partition_key, tracking.tracker(ws.root))
        dvc = workspace.commit_to_dvc(model_stage("traversals", dataset, context.partition_key))
        return materialize_result(result, preview=image_md(result.output), **dvc)

    return ModelAssets(model, traversals, disentanglement_metrics)


MODELS = {dataset: model_assets(dataset, chain.training_set) for dataset, chain in DATA.items()}
MODEL_ASSETS = [asset for family in MODELS.values() for asset in family]
EVALUATION_ASSETS = [asset for family in MODELS.values() for asset in (family.traversals, family.metrics)]


def _model_metadata(result: stages.TrainResult, dataset: str, tracking: TrackingResource, tracker) -> dict:
    return {
        "mlflow_run_id": result.run_id,
        "mlflow_run": dg.MetadataValue.url(tracking.run_link(tracker, result.run_id)),
        "registered_model": f"{dataset}-beta-vae",
        "model_version": result.model_version,
        "data_md5": result.data_md5,
        "reused_previous_run": result.reused,
    }


def model_materialization(asset, partition: str, result, dataset: str, tracking, tracker, dvc: dict):
    """A materialization of a model partition trained outside the asset (grid or distributed job), with the
    asset's own metadata and data version."""
    return dg.AssetMaterialization(
        asset_key=asset.key,
        partition=partition,
        metadata={**metadata(result), **_model_metadata(result, dataset, tracking, tracker), **dvc},
        tags={"dagster/data_version": result.md5},
    )


class GridRequest(dg.Config):
    datasets: list[str] = []  # empty: every dataset whose source is there (pipelines.stages.available)
    configs: list[str] = []  # empty: every config of params.yaml `sweep`
    force: bool = False


@dg.op(pool="gpu", tags={"kind": "pytorch", **GPU_POD})
def train_sweep_grid(
    context: dg.OpExecutionContext, config: GridRequest, workspace: WorkspaceResource, tracking: TrackingResource
):
    """Train every beta/C config of each dataset in one vectorised pass and record a materialization of each
    `<dataset>_beta_vae_model` partition it covers (the same metadata and data version as the asset's own)."""
    ws = workspace.workspace()
    tracker = tracking.tracker(ws.root)
    failures = []
    for dataset in config.datasets or stages.available(ws):
        try:
            results = stages.train_grid(ws, dataset, tracker, config.configs or None, force=config.force)
        except PartialTrainingError as e:  # diverged members: the other partitions are recorded all the same
            results, failures = e.results, [*failures, str(e)]
            context.log.error(str(e))
        dvc = workspace.commit_to_dvc(*(model_stage("train", dataset, name) for name in results))
        for name, result in results.items():
            yield model_materialization(MODELS[dataset].model, name, result, dataset, tracking, tracker, dvc)
        context.log.info("%s: %d partitions trained or up to date", dataset, len(results))
    if failures:
        raise dg.Failure(description="; ".join(failures))
    yield dg.Output(None)


@dg.job(description="train the whole beta/C grid of each dataset in one vectorised run (pool gpu)")
def train_grid_job():
    train_sweep_grid()


@dg.asset(
    group_name="report",
    deps=EVALUATION_ASSETS,
    kinds={"html"},
    automation_condition=UPDATE_WHEN_UPSTREAM_CHANGES,
)
def sweep_report(workspace: WorkspaceResource, tracking: TrackingResource) -> dg.MaterializeResult:
    """One HTML page comparing every beta/C run per dataset; sets the MLflow `champion` alias (highest MIG)."""
    ws = workspace.workspace()
    result = stages.report(ws, tracking.tracker(ws.root))
    return materialize_result(
        result,
        champions=str(result.champions),
        recon_vs_disentanglement=image_md(result.figures.scatter),
        kl_per_latent=image_md(result.figures.kl_heatmap),
        **{f"explorer_{d}": dg.MetadataValue.path(str(page)) for d, page in result.explorers.items()},
        **workspace.commit_to_dvc("report"),
    )
