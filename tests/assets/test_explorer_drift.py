"""The champions' latent explorer pages in headless Chromium, and their latent scores and drift check."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import torch

from assets.resources import TrackingResource, WorkspaceResource
from pipelines.dataset import TrainingSet
from pipelines.tracking import Tracker
from pipelines.vae.checkpoints import load_checkpoint
from tests.assets.conftest import champion_means


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
    np.testing.assert_allclose(scores[[f"z{i}" for i in range(10)]].to_numpy(), champion_means(ws, tracker, beats.x),
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
