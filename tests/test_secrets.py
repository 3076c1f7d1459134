"""Secrets (object-store keys, database passwords, API tokens) come only from the environment, and none of them
ends up in a log line, a Dagster event, an MLflow param or tag, or a file the pipeline writes."""

from __future__ import annotations

import dagster as dg
import pytest

from assets.data import DATA
from assets.definitions import ALL_ASSETS
from assets.models import MODELS
from assets.resources import TrackingResource, WorkspaceResource, default_resources
from pipelines.tracking import Tracker, redact
from tests.conftest import TINY, write_params

SENTINEL = "Zq8-sentinel-secret-41d7"
SECRET_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN",
                    "PGPASSWORD", "DAGSTER_PG_PASSWORD", "COINBASE_API_SECRET")  # fmt: skip


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("postgresql+psycopg2://mlflow:pw@db:5432/mlflow", "postgresql+psycopg2://mlflow:***@db:5432/mlflow"),
        ("https://user:p%40ss@mlflow.example.org/", "https://user:***@mlflow.example.org/"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("sqlite:////tmp/mlflow.db", "sqlite:////tmp/mlflow.db"),
    ],
)
def test_passwords_in_tracking_uris_are_masked(uri, shown):
    assert redact(uri) == shown


def test_the_tracking_uri_is_read_from_the_environment_not_copied_into_dagster_config(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"postgresql+psycopg2://mlflow:{SENTINEL}@db/mlflow")
    tracking = default_resources()["tracking"]
    assert tracking.tracking_uri == ""  # the UI and run config show the resource's config: no URI, no password
    assert SENTINEL not in repr(tracking)


def test_a_pipeline_run_leaves_no_secret_in_logs_events_mlflow_or_files(tmp_path, monkeypatch, capfd, caplog):
    for name in SECRET_VARIABLES:
        monkeypatch.setenv(name, SENTINEL)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = tmp_path / "project"
    root.mkdir()
    resources = {
        "workspace": WorkspaceResource(root=str(root), params=str(write_params(root, TINY))),
        "tracking": TrackingResource(),
    }
    (tmp_path / "dagster").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance:
        data = dg.materialize(ALL_ASSETS, selection=list(DATA["ecg"]), resources=resources, instance=instance)
        model = dg.materialize(ALL_ASSETS, selection=list(MODELS["ecg"]), partition_key="b16_c0", resources=resources,
                               instance=instance)  # fmt: skip
        assert data.success and model.success
        events = [str(e) for run in (data, model) for e in instance.all_logs(run.run_id)]
    assert events and not [e for e in events if SENTINEL in e]
    tracker = Tracker(f"sqlite:///{root}/mlflow.db")
    runs = tracker.client.search_runs([tracker.experiment_id("ecg")])
    assert runs and all(SENTINEL not in str(r.data.params) + str(r.data.tags) for r in runs)
    out, err = capfd.readouterr()
    assert SENTINEL not in out + err + caplog.text
    written = [p for p in tmp_path.rglob("*") if p.is_file() and SENTINEL.encode() in p.read_bytes()]
    assert written == []  # data/, mlflow.db, mlartifacts/ (the logged model and its environment), the instance
