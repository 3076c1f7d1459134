"""The Dagster webserver for real: started on a free port, a materialization launched through its GraphQL API and
followed to success, as the UI would."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request

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


@pytest.fixture
def webserver(tmp_path):
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
    yield DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=30), tmp_path
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


def test_a_materialization_launched_through_graphql_succeeds(webserver):
    client, root = webserver
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
