"""The Dagster webserver for real: started on a free port, a materialization launched through its GraphQL API and
followed to success, as the UI would; then the asset graph page loaded in headless Chromium (Debian's package,
driven by Playwright) and saved as a screenshot."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from tests.conftest import REPO, TINY, write_params
from tests.test_cli import BIN, _env

INSTANCE = """run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("webserver")
    write_params(tmp_path, TINY)
    env = _env(tmp_path)
    (tmp_path / ".dagster" / "dagster.yaml").write_text(INSTANCE)  # runs start at once, no daemon needed
    port = _free_port()
    log = open(tmp_path / "webserver.log", "w")
    proc = subprocess.Popen([BIN / "dagster-webserver", "-m", "assets", "-h", "127.0.0.1", "-p", str(port)],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    ready, deadline = False, time.monotonic() + 120
    while not ready and time.monotonic() < deadline and proc.poll() is None:
        try:
            ready = urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5).status == 200
        except OSError:  # not listening yet
            time.sleep(1)
    if not ready:
        proc.kill()
        pytest.fail("webserver did not answer within 120 s:\n" + (tmp_path / "webserver.log").read_text()[-3000:])
    yield DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=30), tmp_path, port
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_a_materialization_launched_through_graphql_succeeds(webserver):
    client, root, port = webserver
    run_id = client.submit_job_execution("data_job")
    deadline = time.monotonic() + 300
    status = None
    while time.monotonic() < deadline:
        try:
            status = client.get_run_status(run_id).value
        except DagsterGraphQLClientError:
            status = None
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert status == "SUCCESS", (root / "webserver.log").read_text()[-3000:]
    assert (root / "data" / "ecg" / "training_set.npz").is_file() and (
        root / "data" / "btc" / "training_set.npz"
    ).is_file()


def test_the_asset_graph_page_renders_in_headless_chromium(webserver):
    """After the data run above: the global asset lineage with every group expanded, saved as a PNG (in
    $BVAE_SCREENSHOTS when set); every asset's node is on the page."""
    _, root, port = webserver
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (`make system-deps` installs Debian's package as root)")
    path = Path(os.environ.get("BVAE_SCREENSHOTS", root)) / "asset-graph.png"
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    from assets.definitions import ALL_ASSETS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1800, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/asset-groups", wait_until="networkidle")
        try:  # the first visit of an instance asks to join the community
            page.get_by_role("button", name="Skip").click(timeout=3000)
        except PlaywrightTimeout:
            pass
        page.locator("body").click(position={"x": 900, "y": 900})  # focus the graph
        page.keyboard.press("Alt+KeyE")  # "Expand all groups"
        page.get_by_text("sweep_report", exact=True).wait_for(timeout=30_000)
        assert page.title() == "Global asset lineage"
        for asset in ALL_ASSETS:
            name = asset.key.to_user_string()
            if len(name) <= 18:  # longer names are shortened inside their node
                assert page.get_by_text(name, exact=True).count() >= 1, f"{name} not on the asset graph"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path))
        browser.close()
    print(f"asset graph screenshot: {path}")
    from PIL import Image

    with Image.open(path) as image:
        assert image.size == (1800, 1000)
        assert len(image.convert("L").getcolors(maxcolors=1 << 16) or []) > 50  # drawn, not a blank page
