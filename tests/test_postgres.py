"""Dagster's run and event storage and MLflow's backend store on a real PostgreSQL server, as infra/ deploys them
(the instance config is infra/compose/dagster.yaml): the server is Debian's package, initialised and started by
this test in a temporary directory on a free port."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from assets.data import DATA
from assets.definitions import ALL_ASSETS
from assets.models import MODELS
from assets.resources import TrackingResource, WorkspaceResource
from pipelines.tracking import tracker_for
from tests.conftest import REPO, TINY, write_params

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
CONFIG = "b16_c0"


def _as_postgres(cmd: list) -> list:
    """PostgreSQL refuses to run as root: run its tools as the `postgres` user the Debian package creates."""
    return ["runuser", "-u", "postgres", "--", *map(str, cmd)] if os.geteuid() == 0 else list(map(str, cmd))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL server with databases `dagster` and `mlflow`; yields its port."""
    if not PG_BIN:
        pytest.skip("PostgreSQL is not installed (`make system-deps` installs Debian's package as root)")
    bin_dir = Path(PG_BIN[-1])
    base = Path(tempfile.mkdtemp(prefix="bvae-pg-"))  # under /tmp: the postgres user can reach it
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data, port = base / "data", _free_port()
    run = lambda cmd: subprocess.run(_as_postgres(cmd), check=True, capture_output=True, text=True, timeout=120)  # noqa: E731
    run([bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
    run([bin_dir / "pg_ctl", "-D", data, "-l", base / "server.log", "-o", options, "-w", "start"])
    try:
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE dagster")
            cur.execute("CREATE DATABASE mlflow")
        conn.close()
        yield port
    finally:
        subprocess.run(_as_postgres([bin_dir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"]), timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def count(port: int, db: str, sql: str) -> int:
    with psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname=db) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def test_materializations_with_dagster_and_mlflow_storage_on_postgres(postgres, tmp_path, monkeypatch):
    port = postgres
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    home = tmp_path / ".dagster"  # the deployment's instance config itself, pointed at this server
    home.mkdir()
    shutil.copy(REPO / "infra" / "compose" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", f"postgresql+psycopg2://postgres@127.0.0.1:{port}/dagster")
    mlflow_uri = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/mlflow"
    resources = {
        "workspace": WorkspaceResource(root=str(tmp_path), params=str(write_params(tmp_path, TINY))),
        "tracking": TrackingResource(tracking_uri=mlflow_uri),
    }
    with dg.DagsterInstance.from_config(str(home)) as instance:
        data = dg.materialize(ALL_ASSETS, selection=list(DATA["ecg"]), resources=resources, instance=instance)
        model = dg.materialize(ALL_ASSETS, selection=list(MODELS["ecg"]), partition_key=CONFIG, resources=resources,
                               instance=instance)  # fmt: skip
        assert data.success and model.success
        assert instance.get_latest_materialization_event(dg.AssetKey("heartbeats")) is not None
        assert CONFIG in instance.get_materialized_partitions(MODELS["ecg"].model.key)

    # the rows are in Postgres, not in a local file
    assert count(port, "dagster", "SELECT count(*) FROM runs") == 2
    assert (
        count(port, "dagster", "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
        == 6
    )
    assert not (home / "history").exists() or not any((home / "history").rglob("*.db"))
    [run_id] = (
        model.asset_materializations_for_node(MODELS["ecg"].model.key.to_python_identifier())[0]
        .metadata["mlflow_run_id"]
        .value.split()
    )
    run = tracker_for(tmp_path, mlflow_uri).client.get_run(run_id)
    assert run.data.tags["config"] == CONFIG and "data_md5" in run.data.tags
    assert count(port, "mlflow", "SELECT count(*) FROM runs") == 3  # the sweep parent and a child per seed
    assert count(port, "mlflow", "SELECT count(*) FROM model_versions WHERE name = 'ecg-beta-vae'") == 2
