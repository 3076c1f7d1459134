"""Latent scores and drift, one asset per dataset: `<dataset>_latent_scores` encodes the dataset as now ingested
with its champion (pipelines.stages.drift) and records the model version it used; its check `<dataset>_latent_drift`
(WARN, not blocking) says which latents moved from the champion's training split, with a per-latent table (KS,
PSI, mean shift) and histograms in the metadata. New data from the inbox sensor updates the training set, whose
update materializes these assets (their automation condition) and so runs the check with no one pressing a button."""

import dagster as dg

from assets.data import DATA
from assets.models import sweep_report
from assets.partitions import UPDATE_WHEN_UPSTREAM_CHANGES
from assets.resources import TrackingResource, WorkspaceResource
from assets.results import image_md, metadata
from pipelines import stages

DRIFT_COLUMNS = ["latent", "active", "ks", "ks_p", "psi", "shift_sd", "moved"]


def latent_scores_asset(dataset: str) -> dg.AssetsDefinition:
    check = f"{dataset}_latent_drift"

    @dg.asset(name=f"{dataset}_latent_scores", group_name=dataset, kinds={"parquet", "mlflow"},
              deps=[DATA[dataset].training_set, sweep_report], automation_condition=UPDATE_WHEN_UPSTREAM_CHANGES,
              check_specs=[dg.AssetCheckSpec(check, asset=f"{dataset}_latent_scores", blocking=False,
                                             description="which latents of the champion moved from its training "
                                             "split: KS and PSI per latent (WARN)")],
              description=f"The {dataset} data as now ingested, encoded by its champion (latent means).")  # fmt: skip
    def scores(workspace: WorkspaceResource, tracking: TrackingResource) -> dg.MaterializeResult:
        ws = workspace.workspace()
        result = stages.latent_scores(ws, dataset, tracking.tracker(ws.root))
        shown = {"model_version": result.model_version, "compared": result.compared}
        if result.table is not None:
            shown |= {"latents": dg.MetadataValue.md(result.table[DRIFT_COLUMNS].round(4).to_markdown(index=False)),
                      "histograms": image_md(result.figure)}  # fmt: skip
        drift = dg.AssetCheckResult(
            check_name=check,
            passed=result.passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=result.gate,
            metadata={"moved": ", ".join(result.moved), **shown},
        )
        return dg.MaterializeResult(metadata={**metadata(result), **shown}, check_results=[drift])

    return scores


LATENT_SCORES = {dataset: latent_scores_asset(dataset) for dataset in stages.DATASETS}
