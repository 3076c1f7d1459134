"""Declarative automation: new upstream data requests the assets below it, and nothing on the other dataset's side."""

from __future__ import annotations

import dagster as dg

from assets.definitions import defs


def requested(result) -> set[str]:
    return {r.key.to_user_string() for r in result.results if r.true_subset.size}


def test_new_raw_records_request_validation_and_heartbeats_only():
    instance = dg.DagsterInstance.ephemeral()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.total_requested == 0  # nothing has data yet
    instance.report_runless_asset_event(dg.AssetMaterialization("ecg_raw_records"))
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert requested(after) == {"ecg_records_validated", "heartbeats"}  # models wait for the price windows too


def test_new_bars_request_the_exchange_side():
    instance = dg.DagsterInstance.ephemeral()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    instance.report_runless_asset_event(dg.AssetMaterialization("btc_raw_bars"))
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert requested(after) == {"btc_bars_validated", "price_windows"}
