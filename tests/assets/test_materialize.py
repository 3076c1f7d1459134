"""The whole asset graph materialized with Dagster's `materialize` on the tiny config: every stage real."""

from __future__ import annotations

import hashlib
import json

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from assets.definitions import defs
from assets.partitions import CONFIGS
from assets.resources import TrackingResource, WorkspaceResource
from pipelines.dataset import TrainingSet


def test_definitions_load_and_resolve_jobs():
    repo = defs.get_repository_def()
    assert {"data_job", "ecg_data_job", "btc_data_job", "sweep_job", "train_grid_job"} <= {
        job.name for job in repo.get_all_jobs()
    }
    model = repo.assets_defs_by_key[dg.AssetKey("ecg_beta_vae_model")]
    assert model.partitions_def.get_partition_keys() == CONFIGS


def test_every_run_succeeds(materialized):
    _, runs = materialized
    assert len(runs) == 4 + len(CONFIGS)  # data, the grid of both datasets, one run per config, report, scores
    assert all(r.success for r in runs)


def test_blocking_checks_pass_and_report_expectations(materialized):
    _, runs = materialized
    checks = {e.check_name: e for e in runs[0].get_asset_check_evaluations()}
    assert set(checks) == {"gx_record_suite", "gx_beat_suite", "gx_bar_suite", "gx_window_suite"}
    assert all(c.passed for c in checks.values())
    assert "ExpectColumnPairValuesAToBeGreaterThanB" in checks["gx_bar_suite"].metadata["expectations"].value


def test_heartbeats_and_windows_have_expected_shapes(materialized):
    ws, _ = materialized
    beats = TrainingSet.load(ws.heartbeats)
    # the bounded recipe of params.yaml: 0.25 s + 0.95 s at 125 Hz, then the RR channel
    assert beats.x.shape[1] == 300 and len(beats.channel_names) == 2
    assert beats.factor_names == ["hr_bpm", "qrs_s", "p_mv", "t_mv", "st_mv"] and beats.factor_kind == "generative"
    rr = np.round(beats.labels.groupby("record").r_sample.diff().shift(-1).to_numpy() * 125 / 1000)  # to the next R
    ends = np.argmax(beats.x[:, 149::-1] != 0, axis=1)  # zero samples at each beat's end
    cut = np.isfinite(rr)
    assert np.all(np.abs((150 - ends[cut]) - rr[cut]) <= 2)  # each beat ends where the next one's window starts
    assert np.all(np.abs(beats.x[cut, 150] + 0.8 - rr[cut] / 125) < 0.005)  # the RR channel: the same interval
    # 4 patients x 40 s at 55-100 bpm: between 100 and 300 beats, every patient present
    assert 100 <= len(beats) <= 300 and beats.labels.patient.nunique() == 4
    windows = TrainingSet.load(ws.price_windows)
    assert windows.x.shape[1] == 360 and len(windows.channel_names) == 2  # closes, then the range channel
    assert np.allclose(windows.x[:, 0], 0.0)  # log return relative to each window's first close
    assert windows.factor_names == ["trend", "volatility"] and "jump_rate" in windows.labels


def test_materialization_metadata_carries_counts_and_dvc_md5(materialized):
    ws, runs = materialized
    mats = {e.asset_key.to_user_string(): e.materialization for e in runs[0].get_asset_materialization_events()}
    beats_md = mats["heartbeats"].metadata
    assert beats_md["samples"].value == len(TrainingSet.load(ws.heartbeats))
    assert beats_md["dvc_md5"].value == hashlib.md5(ws.heartbeats.read_bytes()).hexdigest()


def test_mlflow_has_one_run_and_one_registered_version_per_partition_and_seed(materialized):
    ws, _ = materialized
    tracker = TrackingResource().tracker(ws.root)
    for dataset in ("ecg", "btc"):
        exp = tracker.client.get_experiment_by_name(f"{dataset}-beta-vae")
        sweeps = tracker.client.search_runs([exp.experiment_id], filter_string="tags.kind = 'sweep'")
        runs = tracker.client.search_runs([exp.experiment_id], filter_string="tags.config != ''")
        assert len(sweeps) == 1  # one grid on one data version: one parent, every partition nested under it
        assert {r.data.tags["mlflow.parentRunId"] for r in runs} == {sweeps[0].info.run_id}
        assert sorted(r.data.tags["config"] for r in runs) == sorted(CONFIGS * 2)  # two seeds each
        run = runs[0]
        assert {"train.lr", "loss.beta", "loss.capacity_nats"} <= set(run.data.params)
        assert {"loss", "recon", "kl", "kl_0", "test_recon_rmse", "test_mig"} <= set(run.data.metrics)
        assert len(tracker.client.get_metric_history(run.info.run_id, "loss")) == 2  # one point per epoch
        dataset_md5 = hashlib.md5(ws.training_set(dataset).read_bytes()).hexdigest()
        assert run.data.tags["data_md5"] == dataset_md5
        assert [d.dataset.digest for d in run.inputs.dataset_inputs] == [dataset_md5]  # DVC md5 as the digest
        versions = tracker.client.search_model_versions(f"name='{dataset}-beta-vae'")
        assert len(versions) == 2 * len(CONFIGS)
        assert tracker.client.get_model_version_by_alias(f"{dataset}-beta-vae", "champion") is not None


def test_report_has_a_row_a_traversal_and_the_sweep_figures(materialized):
    ws, _ = materialized
    table = pd.read_csv(ws.report_dir / "sweep.csv")
    models, baselines = table[table.kind != "baseline"], table[table.kind == "baseline"]
    assert set(zip(models.dataset, models.config, strict=True)) == {(d, c) for d in ("ecg", "btc") for c in CONFIGS}
    assert len(models) == 2 * len(CONFIGS) and (models.seeds == 2).all()
    assert sorted(baselines.config) == ["FastICA-10", "FastICA-10", "PCA-10", "PCA-10"]
    assert baselines.mig.between(0, 1).all()
    html = (ws.report_dir / "index.html").read_text()
    assert html.count('alt="traversals.png"') == 2 * len(CONFIGS)  # every run's traversal grid
    for name in ("recon_vs_disentanglement.png", "kl_heatmap.png"):
        assert html.count(f'alt="{name}"') == 1
    for name in ("factor_correlations.png", "prior_samples.png"):
        assert html.count(f'alt="{name}"') == 2  # the champion of each dataset
    assert "highest median MIG" in html and ("Best median MIG" in html or "No run disentangles" in html)
    metrics = json.loads((ws.eval_dir("ecg", CONFIGS[0]) / "metrics.json").read_text())
    assert len(metrics["kl_per_latent"]) == 10 and 0.0 <= metrics["mig"] <= 1.0
    assert [s["seed"] for s in metrics["seeds"]] == [0, 1] and metrics["representative_seed"] in (0, 1)
    assert metrics["mig"] == pytest.approx(np.median([s["mig"] for s in metrics["seeds"]]))
    assert metrics["iqr"]["mig"][0] <= metrics["mig"] <= metrics["iqr"]["mig"][1]
    assert all(0 <= s["udr"] <= 1 for s in metrics["seeds"])  # two seeds: UDR compares them
    assert metrics["recon_rmse_uv"] == pytest.approx(1000 * metrics["recon_rmse"])  # beats in mV, error in µV
    assert "probe_mi_auroc" in metrics  # NaN when a split holds one class (tests/evaluation/test_probes.py)
    assert np.array(metrics["factor_correlation"], dtype=float).shape == (10, len(metrics["factor_names"]))


def test_rematerializing_a_data_asset_is_idempotent(materialized):
    ws, _ = materialized
    before = ws.heartbeats.read_bytes()
    from assets.data import DATA
    from assets.definitions import ALL_ASSETS

    resources = {
        "workspace": WorkspaceResource(root=str(ws.root), params=str(ws.params_path)),
        "tracking": TrackingResource(),
    }
    result = dg.materialize(ALL_ASSETS, selection=list(DATA["ecg"]), resources=resources)
    assert result.success
    assert ws.heartbeats.read_bytes() == before


def test_without_a_ludb_source_its_chain_is_skipped_and_the_run_succeeds(tmp_path):
    """LUDB has no embedded data: with `sources.ludb` pointing nowhere its raw asset materializes nothing (with a
    warning naming the setting) and Dagster skips the validated and training-set assets after it."""
    from assets.data import DATA
    from assets.definitions import ALL_ASSETS
    from tests.conftest import TINY, write_params

    params = write_params(tmp_path, {**TINY, "sources": {"ludb": str(tmp_path / "absent")}})
    resources = {"workspace": WorkspaceResource(root=str(tmp_path), params=str(params)), "tracking": TrackingResource()}
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(ALL_ASSETS, selection=list(DATA["ludb"]), resources=resources, instance=instance)
    assert result.success
    assert result.get_asset_materialization_events() == []
    skipped = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SKIPPED"}
    assert skipped == {"ludb_records_validated", "ludb_heartbeats"}
    logs = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("sources.ludb is empty or not a directory here: ludb skipped" in m for m in logs)
    assert not (tmp_path / "data" / "ludb").exists()
