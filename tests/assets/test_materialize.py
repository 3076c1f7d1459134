"""The whole asset graph materialized with Dagster's `materialize` on the tiny config: every stage real."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import requests
import torch

from assets.definitions import defs
from assets.demo import materialize_all
from assets.partitions import CONFIGS
from assets.resources import TrackingResource, WorkspaceResource
from pipelines.dataset import TrainingSet
from pipelines.stages import run_info
from pipelines.tracking import Tracker
from pipelines.vae.checkpoints import load_checkpoint


def test_definitions_load_and_resolve_jobs():
    repo = defs.get_repository_def()
    assert {"data_job", "ecg_data_job", "btc_data_job", "sweep_job", "train_grid_job"} <= {
        job.name for job in repo.get_all_jobs()
    }
    model = repo.assets_defs_by_key[dg.AssetKey("ecg_beta_vae_model")]
    assert model.partitions_def.get_partition_keys() == CONFIGS


@pytest.fixture(scope="module")
def materialized(tmp_path_factory):
    """Materialize the full graph once in a temporary workspace; yields (workspace, run results)."""
    from tests.conftest import TINY, write_params

    root = tmp_path_factory.mktemp("graph")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        resources = {
            "workspace": WorkspaceResource(root=str(root), params=str(write_params(root, TINY))),
            "tracking": TrackingResource(),
        }
        runs = materialize_all(resources)
        yield resources["workspace"].workspace(), runs


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


def test_registered_model_encodes_to_the_partitions_latent_means_and_reconstructs(materialized):
    """A registered version is its partition's model as an encoder pyfunc: float64 samples in data units give the
    checkpoint's posterior means as z0..z9 (log-variances and the reconstruction by a parameter)."""
    ws, _ = materialized
    tracker: Tracker = TrackingResource().tracker(ws.root)
    test = TrainingSet.load(ws.heartbeats).part("test")
    config = next(c for c in CONFIGS if run_info(ws, "ecg", c)["model_version"] == "1")
    registered = tracker.load_model("ecg", 1)
    trained, _ = load_checkpoint(ws.checkpoint("ecg", config, 0))
    with torch.no_grad():
        mu, logvar = (t.numpy() for t in trained.encode(torch.as_tensor(test.x)))
        expected = trained(torch.as_tensor(test.x)).numpy()
    codes = registered.predict(test.x.astype(np.float64), params={"logvar": True})
    assert list(codes.columns) == [f"z{i}" for i in range(10)] + [f"logvar_z{i}" for i in range(10)]
    np.testing.assert_allclose(codes.iloc[:, :10].to_numpy(), mu, atol=1e-6)
    np.testing.assert_allclose(codes.iloc[:, 10:].to_numpy(), logvar, atol=1e-6)
    recon = registered.predict(test.x.astype(np.float64), params={"output": "reconstruction"}).to_numpy()
    assert recon.shape == test.x.shape
    np.testing.assert_allclose(recon, expected, rtol=1e-6, atol=1e-7)  # the registered version is that model
    logged = {p.name for p in (ws.root / "mlartifacts").rglob("*") if p.is_file()}
    assert {"weights.pt", "config.json", "served.py"} <= logged and not any(n.endswith(".pkl") for n in logged)


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


def _champion_means(ws, tracker: Tracker, x: np.ndarray) -> np.ndarray:
    """The posterior means of `x` under the ECG champion's checkpoint, as the pipeline computes them."""
    version = tracker.client.get_model_version_by_alias("ecg-beta-vae", "champion")
    model, _ = load_checkpoint(ws.checkpoint("ecg", version.tags["config"], int(version.tags["seed"])))
    with torch.no_grad():
        return model.encode(torch.as_tensor(x))[0].numpy()


def test_the_champion_loads_in_a_fresh_process_without_this_project(materialized, tmp_path):
    ws, _ = materialized
    tracker: Tracker = TrackingResource().tracker(ws.root)
    test = TrainingSet.load(ws.heartbeats).part("test")
    np.save(tmp_path / "x.npy", test.x.astype(np.float64))
    code = ("import sys, mlflow, numpy as np; assert 'pipelines' not in sys.modules; "
            "m = mlflow.pyfunc.load_model('models:/ecg-beta-vae@champion'); "
            "np.save('z.npy', m.predict(np.load('x.npy')).to_numpy()); "
            "assert not any(n.startswith('pipelines') for n in sys.modules), 'it imported this project'")  # fmt: skip
    env = {"PATH": os.environ["PATH"], "MLFLOW_TRACKING_URI": tracker.uri, "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "z.npy"), _champion_means(ws, tracker, test.x), atol=1e-6)


def test_mlflow_models_serve_answers_with_the_pipelines_latent_means(materialized, tmp_path):
    """`mlflow models serve -m models:/ecg-beta-vae@champion --env-manager local` on loopback: test-split beats
    posted as JSON come back as the champion's latent means."""
    ws, _ = materialized
    tracker: Tracker = TrackingResource().tracker(ws.root)
    test = TrainingSet.load(ws.heartbeats).part("test")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/ecg-beta-vae@champion",
           "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # it runs the venv's uvicorn
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracker.uri, "PATH": path}
    with open(tmp_path / "serve.log", "w") as log:
        server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.5)
        body = {"inputs": test.x.astype(np.float64).tolist()}
        reply = requests.post(f"http://127.0.0.1:{port}/invocations", json=body, timeout=60)
        assert reply.ok, reply.text
        codes = pd.DataFrame(reply.json()["predictions"])
        assert list(codes.columns) == [f"z{i}" for i in range(10)]
        np.testing.assert_allclose(codes.to_numpy(), _champion_means(ws, tracker, test.x), atol=1e-5)
        with_logvar = requests.post(f"http://127.0.0.1:{port}/invocations", json={**body, "params": {"logvar": True}})
        assert with_logvar.ok and len(with_logvar.json()["predictions"][0]) == 20
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def _tree(root) -> dict:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_encode_writes_one_row_per_ptb_beat_with_the_champions_codes_and_the_quarantine(materialized):
    from pipelines.stages import DATASET_SPECS
    from pipelines.stages.encode import encode
    from tests.conftest import shared

    ws, _ = materialized
    tracker: Tracker = TrackingResource().tracker(ws.root)
    before = _tree(ws.data)
    table = encode(ws, tracker, "ecg", shared("ptbdb"))
    assert _tree(ws.data) == before  # nothing under data/ is touched
    beats, rejects = DATASET_SPECS["ecg"].read_samples(ws, shared("ptbdb"))
    coded = table[table.quarantine_reason.isna()]
    assert len(coded) == len(beats) and len(table) == len(beats) + len(rejects)
    assert list(coded.item) == list(beats.labels.record) and (coded.lead == "ii").all()
    assert coded.beat_time_s.between(0, 120).all()
    np.testing.assert_allclose(coded[[f"z{i}" for i in range(10)]].to_numpy(), _champion_means(ws, tracker, beats.x),
                               atol=1e-6)  # fmt: skip
    held = table[table.quarantine_reason.notna()]
    assert held[[f"z{i}" for i in range(10)]].isna().all().all()
    assert "listed in RECORDS but its .hea file is missing" in set(held.quarantine_reason)  # RECORDS lists 548
    version = tracker.model_version("ecg", "champion")
    for label in json.loads(version.tags["latents"]):  # each factor's alias column is its best active latent
        if label["active"] and label["factor"] in table:
            best = max((lb for lb in json.loads(version.tags["latents"]) if lb["factor"] == label["factor"] and
                        lb["active"]), key=lambda lb: lb["rho"])  # fmt: skip
            assert coded[label["factor"]].equals(coded[best["latent"]])


def test_encode_cuts_the_exchange_bars_into_windows_and_quarantines_the_hourly_file(materialized, tmp_path):
    ws, _ = materialized
    from tests.conftest import shared

    out = tmp_path / "latents.parquet"
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", "encode", "--dataset", "btc", "--input", str(shared("exchange")),
         "--out", str(out)], env={**os.environ, "BVAE_ROOT": str(ws.root), "BVAE_PARAMS": str(ws.params_path)},
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    table = pd.read_parquet(out)
    coded = table[table.quarantine_reason.isna()]
    assert len(coded) > 0 and coded.start.is_monotonic_increasing and coded.z0.notna().all()
    held = dict(zip(table.item, table.quarantine_reason, strict=True))
    assert held["Coinbase_BTCUSD_1h.csv"] == "bars every 3600 s, expected 60 s"
    assert "Coinbase_BTCUSD_1h.csv" in done.stderr and "Traceback" not in done.stderr


def test_encode_names_a_corrupt_record_and_goes_on_and_a_recipe_mismatch_names_both(materialized, tmp_path):
    from pipelines.errors import ConfigError
    from pipelines.stages.encode import encode
    from pipelines.workspace import Workspace
    from tests.conftest import TINY, shared, write_params

    ws, _ = materialized
    source = tmp_path / "wfdb"
    for record in ("patient001/s0010_re", "patient001/s0014lre"):
        (source / record).parent.mkdir(parents=True, exist_ok=True)
        for path in shared("ptbdb").glob(f"{record}.*"):
            shutil.copy(path, source / path.parent.name / path.name)
    (source / "RECORDS").write_text("patient001/s0010_re\npatient001/s0014lre\n")
    dat = source / "patient001" / "s0014lre.dat"
    dat.write_bytes(dat.read_bytes()[:1000])  # truncated
    env = {**os.environ, "BVAE_ROOT": str(ws.root), "BVAE_PARAMS": str(ws.params_path)}
    cmd = [sys.executable, "-m", "pipelines", "encode", "--dataset", "ecg", "--input", str(source), "--out"]
    done = subprocess.run([*cmd, str(tmp_path / "z.parquet")], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    table = pd.read_parquet(tmp_path / "z.parquet")
    [reason] = table[table.item == "patient001/s0014lre"].quarantine_reason
    assert "s0014lre" in done.stderr and reason and ("truncated" in reason or "samples" in reason), reason
    assert (table[table.quarantine_reason.isna()].item == "patient001/s0010_re").all()

    dat.unlink()  # every record unusable: exit status 2 with the directory and the reason, no traceback
    (source / "patient001" / "s0010_re.hea").unlink()
    done = subprocess.run([*cmd, str(tmp_path / "none.parquet")], env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr and str(source) in done.stderr, done.stderr[-2000:]

    longer = Workspace(tmp_path, write_params(tmp_path, {**TINY, "beats": {**TINY.get("beats", {}), "post_s": 1.5}}))
    with pytest.raises(ConfigError, match=r"ecg-beta-vae version \d+ \(champion\) takes samples of 300 values, but "
                                          r"the ecg samples cut from .* have \d+"):  # fmt: skip
        encode(longer, TrackingResource().tracker(ws.root), "ecg", shared("ptbdb"))


@pytest.mark.parametrize("dataset", ["ecg", "btc"])
def test_the_explorer_opens_from_file_decodes_as_torch_and_redraws_on_a_slider(materialized, dataset):
    """The champion's explorer page, opened from file:// in headless Chromium: no request leaves the file, its
    JavaScript decoder equals the torch decoder, every latent has a slider labelled with its factor (inactive
    ones disabled), and moving an active latent's slider redraws the decoded sample."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (`make system-deps` installs Debian's package as root)")
    from playwright.sync_api import sync_playwright

    ws, _ = materialized
    page_path = ws.report_dir / f"explorer-{dataset}.html"
    assert f"explorer-{dataset}.html" in (ws.report_dir / "index.html").read_text()
    version = TrackingResource().tracker(ws.root).model_version(dataset, "champion")
    model, _ = load_checkpoint(ws.checkpoint(dataset, version.tags["config"], int(version.tags["seed"])))
    latents = json.loads((ws.eval_dir(dataset, version.tags["config"]) / "metrics.json").read_text())["latents"]
    zs = np.random.default_rng(0).normal(size=(6, 10)).round(3)
    with torch.no_grad():
        expected = model.decode_standardized(torch.as_tensor(zs, dtype=torch.float32)).numpy()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        urls = []
        page.on("request", lambda request: urls.append(request.url))
        page.goto(page_path.as_uri())
        page.wait_for_function("window.explorer !== undefined")
        decoded = np.array(page.evaluate("(zs) => zs.map((z) => window.explorer.decodeStandardized(z))", zs.tolist()))
        assert np.abs(decoded - expected).max() <= 1e-4
        for label in latents:
            slider = page.locator(f"#{label['latent']}")
            assert slider.count() == 1 and slider.is_enabled() == label["active"]
            assert label["factor"] in page.locator(f"label[for={label['latent']}]").inner_text()
        moved = max((lb for lb in latents if lb["active"]), key=lambda lb: lb["kl"])["latent"]
        before = page.get_attribute("#decoded-0", "points")
        page.locator(f"#{moved}").fill("2.5")
        assert page.get_attribute("#decoded-0", "points") != before
        assert page.locator("svg").count() == 2  # every channel: beat + RR, or path + range
        if os.environ.get("BVAE_SCREENSHOTS"):
            page.screenshot(path=str(Path(os.environ["BVAE_SCREENSHOTS"]) / f"explorer-{dataset}.png"), full_page=True)
        browser.close()
    assert urls and all(url.startswith("file://") for url in urls), urls


def test_latent_scores_encode_the_data_with_the_champion_and_its_own_data_is_not_drift(materialized):
    ws, runs = materialized
    tracker: Tracker = TrackingResource().tracker(ws.root)
    [check] = [c for c in runs[-1].get_asset_check_evaluations() if c.check_name == "ecg_latent_drift"]
    version = str(tracker.model_version("ecg", "champion").version)
    assert check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["model_version"].value == version and "no new data" in check.description
    scores = pd.read_parquet(ws.data / "ecg" / "latent_scores.parquet")
    beats = TrainingSet.load(ws.heartbeats)
    assert len(scores) == len(beats) and list(scores.record) == list(beats.labels.record)
    np.testing.assert_allclose(scores[[f"z{i}" for i in range(10)]].to_numpy(), _champion_means(ws, tracker, beats.x),
                               atol=1e-6)  # fmt: skip


@pytest.mark.parametrize(("change", "moves"), [({"seed": 1}, False), ({"hr_bpm": [100.0, 140.0]}, True)])
def test_the_drift_check_warns_on_new_data_from_shifted_factors_only(materialized, tmp_path, change, moves):
    """New synthetic ECG after the champion was chosen: from the same generator (other patients) no latent moves;
    with heart rates of 100-140 bpm (trained on 55-100) the check fails as a WARN naming the latents that moved."""
    from assets.definitions import ALL_ASSETS
    from assets.drift import LATENT_SCORES
    from pipelines import stages
    from pipelines.workspace import Workspace
    from tests.conftest import TINY, write_params

    ws, _ = materialized
    root = tmp_path / "copy"
    shutil.copytree(ws.root, root)  # its MLflow store too (the artifacts stay where they were logged)
    params = write_params(root, {**TINY, "synthetic_ecg": {**TINY["synthetic_ecg"], **change}})
    new = Workspace(root, params)
    for stage in (stages.generate, stages.ingest_ecg, stages.validate_ecg, stages.heartbeats):
        stage(new)
    resources = {"workspace": WorkspaceResource(root=str(root), params=str(params)), "tracking": TrackingResource()}
    result = dg.materialize(ALL_ASSETS, selection=[LATENT_SCORES["ecg"]], resources=resources)
    assert result.success  # a WARN check does not fail the run
    [check] = result.get_asset_check_evaluations()
    assert check.severity == dg.AssetCheckSeverity.WARN and check.passed is not moves
    assert "samples as now ingested" in check.metadata["compared"].value
    moved = [m for m in check.metadata["moved"].value.split(", ") if m]
    assert bool(moved) is moves and all(m in check.description for m in moved)
    table = check.metadata["latents"].value
    for latent in moved:  # each named latent is past an effect-size threshold in the table
        row = next(line for line in table.splitlines() if line.startswith(f"| {latent} "))
        ks, psi = (float(v) for v in row.split("|")[3:6:2])
        assert ks > 0.2 or psi > 0.25
