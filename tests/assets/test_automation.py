"""Declarative automation: new upstream data requests the assets below it, and nothing on the other dataset's side."""

from __future__ import annotations

import dagster as dg

from assets.definitions import defs
from assets.partitions import CONFIGS


def requested(result) -> set[str]:
    return {r.key.to_user_string() for r in result.results if r.true_subset.size}


def test_new_raw_records_request_validation_and_heartbeats_only():
    instance = dg.DagsterInstance.ephemeral()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.total_requested == 0  # nothing has data yet
    instance.report_runless_asset_event(dg.AssetMaterialization("ecg_raw_records"))
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert requested(after) == {"ecg_records_validated", "heartbeats"}  # models wait for the heartbeats


def test_a_new_training_set_requests_its_own_models_only():
    """New heartbeats retrain every ECG partition and none of the exchange ones, though both have data."""
    instance = dg.DagsterInstance.ephemeral()
    for key in ("heartbeats", "price_windows"):
        instance.report_runless_asset_event(dg.AssetMaterialization(key))
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    instance.report_runless_asset_event(dg.AssetMaterialization("heartbeats"))
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    ecg_models = {"ecg_beta_vae_model", "ecg_traversals", "ecg_disentanglement_metrics"}
    assert requested(after) == ecg_models  # the whole ECG model chain, in one tick; no btc_* asset
    for result in after.results:
        if result.key.to_user_string() in ecg_models:
            assert set(result.true_subset.expensively_compute_partition_keys()) == set(CONFIGS)


def test_new_bars_request_the_exchange_side():
    instance = dg.DagsterInstance.ephemeral()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    instance.report_runless_asset_event(dg.AssetMaterialization("btc_raw_bars"))
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert requested(after) == {"btc_bars_validated", "price_windows"}


def test_the_automation_sensor_runs_by_default_over_every_asset():
    """Under `make ui` nobody has to switch it on: new data re-runs what lies below it."""
    sensor = defs.get_sensor_def("automation_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    graph = defs.resolve_asset_graph()
    assert sensor.asset_selection.resolve(graph) == set(graph.get_all_asset_keys())


def test_new_data_reaches_the_drift_check_with_no_hand_step():
    """Once a report (and so a champion) exists, files the inbox sensor ingests end in the heartbeats, whose update
    requests the ECG latent scores, and with them their drift check, in the same tick as the retraining."""
    instance = dg.DagsterInstance.ephemeral()
    for key in ("heartbeats", "price_windows", "sweep_report"):
        instance.report_runless_asset_event(dg.AssetMaterialization(key))
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    instance.report_runless_asset_event(dg.AssetMaterialization("heartbeats"))
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert "ecg_latent_scores" in requested(after)
    assert not {"btc_latent_scores", "sweep_report"} & requested(after)
    checks = defs.resolve_asset_graph().get(dg.AssetKey("ecg_latent_scores")).check_keys
    assert dg.AssetCheckKey(dg.AssetKey("ecg_latent_scores"), "ecg_latent_drift") in checks
