"""What the MLflow UI shows, read through the REST API of a real `mlflow server` started on the project's store: the
sweep's runs, nested under their parent, with the same param and metric columns so they compare side by side, and
a registered model version per run."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from pipelines import stages
from pipelines.tracking import tracker_for
from tests.test_cli import BIN


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(base: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}/api/2.0/mlflow/{path}", data=data,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def mlflow_server(cwd: Path, backend_uri: str, *options: str):
    """A real `mlflow server` on a free port over `backend_uri`, up and answering /health; yields its URL."""
    port = _free_port()
    log_path = cwd / "mlflow-server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [BIN / "mlflow", "server", "--backend-store-uri", backend_uri, *options, "--host", "127.0.0.1",
             "--port", str(port), "--workers", "1"],
            cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if urllib.request.urlopen(f"{base}/health", timeout=5).status == 200:
                    break
            except OSError:
                time.sleep(1)
        else:
            proc.kill()
            pytest.fail(f"mlflow server did not answer within 120 s:\n{log_path.read_text()}")
        try:
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture
def server(tiny_ws):
    """A trained ECG sweep (every config, with test metrics) in the workspace's sqlite store, served by mlflow."""
    for stage in (stages.ingest_ecg, stages.validate_ecg, stages.heartbeats):
        assert stage(tiny_ws).passed
    tracker = tracker_for(tiny_ws.root)
    for name in stages.train_grid(tiny_ws, "ecg", tracker):
        stages.metrics(tiny_ws, "ecg", name, tracker)
    with mlflow_server(tiny_ws.root, tracker.uri) as base:
        yield base, tiny_ws


def test_the_sweep_runs_have_comparable_columns_in_the_mlflow_server(server):
    base, ws = server
    configs = [c.name for c in ws.params.sweep]
    experiment = api(base, "experiments/get-by-name?experiment_name=ecg-beta-vae")["experiment"]
    runs = api(base, "runs/search", {"experiment_ids": [experiment["experiment_id"]], "max_results": 100})["runs"]
    tags = [{t["key"]: t["value"] for t in r["data"].get("tags", [])} for r in runs]
    parents = [r for r, t in zip(runs, tags, strict=True) if t.get("kind") == "sweep"]
    children = [(r, t) for r, t in zip(runs, tags, strict=True) if "config" in t]
    assert len(parents) == 1 and sorted(t["config"] for _, t in children) == sorted(configs * 2)  # two seeds each
    assert sorted((t["config"], t["seed"]) for _, t in children) == sorted((c, s) for c in configs for s in "01")
    assert {t["mlflow.parentRunId"] for _, t in children} == {parents[0]["info"]["run_id"]}

    params = [{p["key"] for p in r["data"]["params"]} for r, _ in children]
    metrics = [{m["key"] for m in r["data"]["metrics"]} for r, _ in children]
    assert all(p == params[0] for p in params), "every run of the sweep has the same param columns"
    assert {"loss.beta", "loss.capacity_nats", "loss.gamma", "train.lr", "train.epochs"} <= params[0]
    shared = set.intersection(*metrics)
    assert {"loss", "recon", "kl", "capacity", "samples_per_s", "test_mig", "test_recon_rmse"} <= shared
    assert {f"kl_{i}" for i in range(10)} <= shared
    for _, t in children:
        assert {"data_md5", "device", "torch_version"} <= set(t)

    betas = {t["config"]: dict((p["key"], p["value"]) for p in r["data"]["params"]) for r, t in children}
    assert betas["b16_c0"]["loss.beta"] == "16.0" and betas["g1000_c10"]["loss.capacity_nats"] == "10.0"
    versions = api(base, "model-versions/search?filter=" + urllib.request.quote("name='ecg-beta-vae'"))
    assert len(versions["model_versions"]) == 2 * len(configs)
