"""Tracking faults against a real `mlflow server`, reached through a reverse proxy the test controls: a server
that is down when training starts, one that dies mid-training, one answering 503 for a while, and a database
store that does not answer. Training never starts against a store it cannot reach, a run cut off by the store
resumes from its checkpoint, nothing is registered twice, and no password appears in an error or log."""

from __future__ import annotations

import http.server
import logging
import re
import shutil
import socket
import threading

import pytest
import requests

from pipelines import stages
from pipelines.errors import TrackingError
from pipelines.tracking import Tracker
from pipelines.workspace import Workspace
from tests.conftest import write_params
from tests.faults.conftest import PARAMS
from tests.faults.harness import assert_intact, run_cli
from tests.test_mlflow_server import mlflow_server as serve_mlflow

pytestmark = pytest.mark.fault("tracking")

CONFIG = "g1000_c10"
NO_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}  # fail at once where the test cuts the server off


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proxy(http.server.BaseHTTPRequestHandler):
    """Forwards every request to the MLflow server, unless `down` (the connection is dropped without an answer,
    as when the server dies). `down_after_log_batches = k` goes down at the k-th runs/log-batch call, i.e. at a
    chosen point of a training run; `fail_log_batches = n` answers the next n log-batch calls with 503."""

    upstream = ""
    down = False
    fail_log_batches = 0
    down_after_log_batches = 0
    log_batches = 0
    answered: list[int] = []

    def _forward(self):
        if self.path.endswith("/runs/log-batch"):
            Proxy.log_batches += 1
            if Proxy.log_batches == Proxy.down_after_log_batches:
                Proxy.down = True
        body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        if Proxy.down:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if Proxy.fail_log_batches > 0 and self.path.endswith("/runs/log-batch"):
            Proxy.fail_log_batches -= 1
            self.send_error(503, "injected")
            Proxy.answered.append(503)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        resp = requests.request(self.command, Proxy.upstream + self.path, data=body, headers=headers, timeout=60)
        self.send_response(resp.status_code)
        for key, value in resp.headers.items():
            if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(resp.content)))
        self.end_headers()
        self.wfile.write(resp.content)
        Proxy.answered.append(resp.status_code)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real MLflow tracking server (sqlite backend, served artifacts) behind the Proxy; yields the proxy URL."""
    root = tmp_path_factory.mktemp("mlflow-server")
    options = ("--artifacts-destination", str(root / "artifacts"))
    with serve_mlflow(root, f"sqlite:///{root}/mlflow.db", *options) as upstream:
        Proxy.upstream = upstream
        proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{proxy.server_address[1]}"
        proxy.shutdown()


@pytest.fixture
def ws(tmp_path, ecg_data, mlflow_server, monkeypatch):
    """An ECG workspace up to its training set; the proxy healthy and its counters reset."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    Proxy.down, Proxy.fail_log_batches, Proxy.down_after_log_batches, Proxy.log_batches = False, 0, 0, 0
    Proxy.answered = []
    shutil.copytree(ecg_data, tmp_path / "data")
    return Workspace(tmp_path, write_params(tmp_path, PARAMS))


def registered(url: str) -> int:
    return len(Tracker(url).client.search_model_versions("name='ecg-beta-vae'"))


def train(ws: Workspace, url: str, env: dict | None = None):
    return run_cli(["train", "--dataset", "ecg", "--config", CONFIG], ws.root,
                   env={"MLFLOW_TRACKING_URI": url, **(env or {})})  # fmt: skip


def test_a_server_that_is_down_stops_the_run_before_training_and_credentials_stay_masked(ws, mlflow_server):
    down = f"http://bvae:s3cr3t-pw@127.0.0.1:{free_port()}"  # nothing listens there
    failed = train(ws, down, NO_RETRIES)
    assert failed.returncode == 2, failed.stderr[-2000:]
    assert (
        f"MLflow tracking server http://bvae:***@127.0.0.1:{down.rsplit(':', 1)[1]} is not reachable" in failed.stderr
    )
    assert "s3cr3t-pw" not in failed.stderr + failed.stdout
    assert not ws.model_dir("ecg", CONFIG).exists()  # no training started, so none is lost
    before = registered(mlflow_server)
    rerun = train(ws, mlflow_server)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert registered(mlflow_server) == before + 1
    assert_intact(ws.data)


def test_a_server_dying_mid_training_stops_the_run_and_the_rerun_resumes(ws, mlflow_server):
    before = registered(mlflow_server)
    Proxy.down_after_log_batches = 3  # params (the sweep's when it is new, the run's), then epochs' metrics
    failed = train(ws, mlflow_server, NO_RETRIES)
    assert failed.returncode == 2, failed.stderr[-2000:]
    assert f"MLflow at {mlflow_server}: log_metrics failed (" in failed.stderr
    resume = ws.model_dir("ecg", CONFIG) / "resume.pt"
    assert resume.is_file() and not (ws.checkpoint("ecg", CONFIG, 0)).exists()
    Proxy.down = False  # the server is back
    rerun = train(ws, mlflow_server)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert re.search(r"resuming from epoch [12] ", rerun.stderr), rerun.stderr[-2000:]
    assert registered(mlflow_server) == before + 1 and not resume.exists()
    run_id = stages.run_info(ws, "ecg", CONFIG)["run_id"]
    client = Tracker(mlflow_server).client
    history = client.get_metric_history(run_id, "loss")
    assert sorted(m.step for m in history) == [1, 2, 3, 4]  # the resumed run holds the whole history
    # the failed process could not end its run (the server was down); the rerun ended it
    cut_off = client.search_runs([client.get_run(run_id).info.experiment_id], f"tags.superseded_by = '{run_id}'")
    assert [r.info.status for r in cut_off] == ["KILLED"]
    assert_intact(ws.data)


def test_a_server_answering_503_for_a_while_is_retried(ws, mlflow_server):
    before = registered(mlflow_server)
    Proxy.fail_log_batches = 2
    done = train(ws, mlflow_server, {"MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0"})
    assert done.returncode == 0, done.stderr[-2000:]
    first = Proxy.answered.index(503)
    assert Proxy.answered[first : first + 3] == [503, 503, 200]  # MLflow's client retried the same call
    assert registered(mlflow_server) == before + 1
    assert_intact(ws.data)


def test_a_database_store_that_does_not_answer_is_a_tracking_error_without_the_password(tmp_path, caplog,
                                                                                        monkeypatch):  # fmt: skip
    import mlflow.store.db.utils

    monkeypatch.setattr(mlflow.store.db.utils, "MAX_RETRY_COUNT", 2)  # MLflow's own retries take ~100 s
    uri = f"postgresql+psycopg2://bvae:s3cr3t-pw@127.0.0.1:{free_port()}/mlflow"
    with caplog.at_level(logging.DEBUG), pytest.raises(TrackingError) as error:
        Tracker(uri)
    assert str(error.value).startswith(f"MLflow at {uri.replace('s3cr3t-pw', '***')}: connect failed (")
    assert "Connection refused" in str(error.value)
    assert "s3cr3t-pw" not in str(error.value) and "s3cr3t-pw" not in caplog.text
    shutil.rmtree(tmp_path, ignore_errors=True)
