"""ECG assets: raw WFDB records -> validated records -> heartbeats. Each is one call to pipelines.stages."""

import dagster as dg

from assets.partitions import UPDATE_WHEN_UPSTREAM_CHANGES
from assets.resources import WorkspaceResource
from assets.results import materialize_result
from pipelines import stages


@dg.asset(group_name="ecg", kinds={"wfdb", "parquet"})
def ecg_raw_records(workspace: WorkspaceResource) -> dg.MaterializeResult:
    """One row per WFDB record of the configured source (synthetic default or a PTB-layout directory)."""
    result = stages.ingest_ecg(workspace.workspace())
    return materialize_result(result, **workspace.commit_to_dvc("ecg-generate", "ecg-ingest"))


@dg.asset(
    group_name="ecg",
    automation_condition=UPDATE_WHEN_UPSTREAM_CHANGES,
    deps=[ecg_raw_records],
    kinds={"great_expectations", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            "gx_record_suite",
            asset="ecg_records_validated",
            blocking=True,
            description="Great Expectations record suite; fails when too few records pass",
        )
    ],
)
def ecg_records_validated(workspace: WorkspaceResource) -> dg.MaterializeResult:
    """Records that pass the Great Expectations suite; the others are quarantined with their reasons."""
    result = stages.validate_ecg(workspace.workspace())
    return materialize_result(result, "gx_record_suite", **workspace.commit_to_dvc("ecg-validate"))


@dg.asset(
    group_name="ecg",
    automation_condition=UPDATE_WHEN_UPSTREAM_CHANGES,
    deps=[ecg_records_validated],
    kinds={"numpy"},
    check_specs=[
        dg.AssetCheckSpec(
            "gx_beat_suite",
            asset="heartbeats",
            blocking=True,
            description="finite beats, labels present, enough training beats",
        )
    ],
)
def heartbeats(workspace: WorkspaceResource) -> dg.MaterializeResult:
    """Beats cut around R peaks of validated records; the recipe is pipelines.ecg.beats.segment_beats."""
    result = stages.heartbeats(workspace.workspace())
    return materialize_result(result, "gx_beat_suite", **workspace.commit_to_dvc("heartbeats"))


ECG_ASSETS = [ecg_raw_records, ecg_records_validated, heartbeats]
