"""Registered models as MLflow uses them: the encoder pyfunc, `mlflow models serve`, a fresh process, and
`python -m pipelines encode` on real raw data."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import torch

from assets.partitions import CONFIGS
from assets.resources import TrackingResource
from pipelines.dataset import TrainingSet
from pipelines.stages import run_info
from pipelines.tracking import Tracker
from pipelines.vae.checkpoints import load_checkpoint
from tests.assets.conftest import champion_means


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
    np.testing.assert_allclose(np.load(tmp_path / "z.npy"), champion_means(ws, tracker, test.x), atol=1e-6)


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
        np.testing.assert_allclose(codes.to_numpy(), champion_means(ws, tracker, test.x), atol=1e-5)
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
    np.testing.assert_allclose(coded[[f"z{i}" for i in range(10)]].to_numpy(), champion_means(ws, tracker, beats.x),
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
