"""Exchange assets: raw minute bars -> validated bars -> 180-minute price windows."""

import dagster as dg

from assets.partitions import UPDATE_WHEN_UPSTREAM_CHANGES
from assets.resources import WorkspaceResource
from assets.results import materialize_result
from pipelines import stages


@dg.asset(group_name="btc", kinds={"csv", "parquet"})
def btc_raw_bars(workspace: WorkspaceResource) -> dg.MaterializeResult:
    """All minute bars of the configured source (synthetic default or a folder of OHLCV files), one table."""
    result = stages.ingest_btc(workspace.workspace())
    return materialize_result(result, **workspace.commit_to_dvc("btc-generate", "btc-ingest"))


@dg.asset(
    group_name="btc",
    automation_condition=UPDATE_WHEN_UPSTREAM_CHANGES,
    deps=[btc_raw_bars],
    kinds={"great_expectations", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            "gx_bar_suite",
            asset="btc_bars_validated",
            blocking=True,
            description="Great Expectations bar suite; fails when too few bars pass",
        )
    ],
)
def btc_bars_validated(workspace: WorkspaceResource) -> dg.MaterializeResult:
    """Bars that pass the Great Expectations suite; the others are quarantined with their reasons."""
    result = stages.validate_btc(workspace.workspace())
    return materialize_result(result, "gx_bar_suite", **workspace.commit_to_dvc("btc-validate"))


@dg.asset(
    group_name="btc",
    automation_condition=UPDATE_WHEN_UPSTREAM_CHANGES,
    deps=[btc_bars_validated],
    kinds={"numpy"},
    check_specs=[
        dg.AssetCheckSpec(
            "gx_window_suite",
            asset="price_windows",
            blocking=True,
            description="finite windows, labels present, enough training windows",
        )
    ],
)
def price_windows(workspace: WorkspaceResource) -> dg.MaterializeResult:
    """Gap-free windows of validated bars; the recipe is pipelines.exchange.windows.make_windows."""
    result = stages.price_windows(workspace.workspace())
    return materialize_result(result, "gx_window_suite", **workspace.commit_to_dvc("windows"))


BTC_ASSETS = [btc_raw_bars, btc_bars_validated, price_windows]
