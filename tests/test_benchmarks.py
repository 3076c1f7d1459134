"""`make bench` runs: the training benchmark, on a tiny problem, prints every row and figure it promises (the
figures themselves are for benchmarks/results.md, never asserted)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.faults.harness import REPO


def test_the_training_benchmark_prints_its_tables(tmp_path):
    args = ["--rounds", "2", "--samples", "256", "--length", "32", "--grid", "2"]
    done = subprocess.run([sys.executable, "-m", "benchmarks.training", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for row in ("(a) reference", "(b) ours: train_vae", "(c) train_grid, one vectorised pass",
                "(c) 2 sequential train_vae runs"):  # fmt: skip
        assert re.search(re.escape(row) + r".* \| [\d,]+ \| \d+\.\d\dx", out), row
    assert re.search(r"Ours vs reference: \d+\.\d\dx\. The grid of 2.* is \d+\.\d\dx faster than running", out)
    for row in ("(a) reference loop", "(b) train_vae", "(c) train_grid of 2"):  # one run of 8 epochs, first vs last
        assert re.search(re.escape(row) + r" \| [\d,]+ \| [\d,]+ \| \d+\.\d\dx \|", out), row
    assert done.stderr.count("round ") >= 2  # progress per round


def test_leave_one_out_never_chooses_a_threshold_on_the_record_it_scores():
    from benchmarks.rpeaks import leave_one_out

    # record "a" is best at 0.3 on its own, the others at 0.1: "a" must be scored at 0.1, and each other
    # record at the best of the rest (0.1 too, since "a" alone cannot outweigh two)
    counts = {
        "a": {0.1: (80, 10, 20), 0.3: (85, 5, 15)},
        "b": {0.1: (100, 0, 0), 0.3: (90, 0, 10)},
        "c": {0.1: (100, 0, 0), 0.3: (90, 0, 10)},
    }
    chosen = leave_one_out(counts)
    assert chosen["a"] == (0.1, (80, 10, 20))
    assert chosen["b"][0] == chosen["c"][0] == 0.1
    counts["b"][0.3] = counts["c"][0.3] = (100, 0, 0)  # b and c now tie: "a" decides for them, not for itself
    assert leave_one_out(counts)["a"][0] == 0.1 and leave_one_out(counts)["b"][0] == 0.3


@pytest.fixture(scope="module")
def ludb_ws(tmp_path_factory):
    """A workspace with LUDB's training set of 8 real records (the TINY params), shared by this file's tests."""
    from pipelines import stages
    from pipelines.workspace import Workspace
    from tests.conftest import TINY, ludb_copy, write_params

    root = tmp_path_factory.mktemp("ludb_ws")
    records = tuple(f"data/{n}" for n in range(1, 9))
    ws = Workspace(root, write_params(root, {**TINY, "sources": {"ludb": str(ludb_copy(root / "ludb", records))}}))
    for stage in (stages.ludb_ingest, stages.ludb_validate, stages.ludb_beats):
        stage(ws)
    return ws


def test_the_ludb_ceiling_prints_every_factor_and_the_factor_correlations(ludb_ws, tmp_path):
    from pipelines.dataset import TrainingSet
    from pipelines.vae.checkpoints import save_checkpoint
    from pipelines.vae.config import TrainConfig
    from pipelines.vae.model import ModelConfig, init_models
    from pipelines.vae.regularizers import LossConfig

    ws = ludb_ws
    data = TrainingSet.load(ws.training_set("ludb"))  # an untrained model is enough to read codes from
    model = init_models(ModelConfig(data.x.shape[1], hidden=(16,)), [0], float(data.x.mean()), float(data.x.std()))[0]
    save_checkpoint(tmp_path / "models" / "tc12" / "checkpoints" / "seed0.pt", model, TrainConfig(),
                    LossConfig("tc12", "tcvae", beta=12.0), [])  # fmt: skip
    args = [str(ws.training_set("ludb")), "--models", str(tmp_path / "models")]
    done = subprocess.run([sys.executable, "-m", "benchmarks.ludb_ceiling", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"LUDB \(.*\): \d+ beats of \d subjects", done.stdout)
    for factor in ("rr_s", "qrs_s", "pr_s", "qt_s", "t_amp", "p_amp"):  # (trees fitted on few beats may be constant)
        assert re.search(rf"\| {factor} +\| +\d+ \| +\d+ \|( +(-?\d\.\d{{3}}|nan) +\|){{5}}", done.stdout), factor
    assert "Spearman correlation of the expert factors" in done.stdout
    cell = r" \d\.\d\d / \d\.\d\d / (\d\.\d\d|nan) / (\d\.\d\d|nan) +\|"
    assert re.search(r"\| tc12 seed0 +\|" + cell * 6, done.stdout), done.stdout[-1500:]


def test_a_factor_spread_over_two_latents_is_in_the_code_but_in_no_single_latent():
    import numpy as np
    import pandas as pd

    from benchmarks.ludb_ceiling import best_single, readouts
    from pipelines.ecg.ludb import FACTORS

    rng = np.random.default_rng(0)
    y = pd.DataFrame(rng.uniform(size=(2000, len(FACTORS))), columns=list(FACTORS))
    y.loc[1900:, "p_amp"] = np.nan  # a missing P wave: scored on the other rows
    f = y.fillna(0.5).to_numpy()  # each pair of factors rotated by 45° into two latents: sum and difference
    codes = np.concatenate([(f[:, 0::2] + f[:, 1::2]) / 2**0.5, (f[:, 0::2] - f[:, 1::2]) / 2**0.5], axis=1)
    train = np.arange(len(y)) < 1500
    single, read = best_single(codes, y, ~train), readouts(codes, y, train)
    for factor in FACTORS:
        assert 0.6 < single[factor] < 0.8, (factor, single[factor])  # ~cos 45° (the factors are independent)
        assert read[factor]["ridge |rho|"] > 0.99, factor  # the rotation is linear: ridge undoes it
        assert read[factor]["test"] == (400 if factor == "p_amp" else 500)


def test_the_study_follows_params_train_shows_progress_and_prints_quartiles_to_three_digits(tiny_ws):
    from pipelines import stages
    from tests.conftest import TINY, write_params

    for stage in (stages.ingest_ecg, stages.validate_ecg, stages.heartbeats):
        stage(tiny_ws)
    sweep = {"b1_c0": {"kind": "beta", "beta": 1.0}, "b4_c0": {"kind": "beta", "beta": 4.0}}
    params = write_params(tiny_ws.root, {**TINY, "train": {**TINY["train"], "lr": 0.001}, "sweep": sweep},
                          replace=("sweep",))  # fmt: skip
    args = [str(tiny_ws.heartbeats), "--seeds", "2", "--params", str(params), "--epochs", "1"]
    done = subprocess.run([sys.executable, "-m", "benchmarks.sweep_effect", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 seeds x 2 configs, 1 epochs, lr 0.001, recon σ 0.1" in done.stdout  # lr from params, epochs overridden
    assert re.search(r"\| b4_c0 \| -?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\] \|", done.stdout)
    assert "b1_c0/seed1 epoch 1/1" in done.stderr and "scored b4_c0 seed 1 (4/4)" in done.stderr


def test_the_conv_variant_trains_with_the_pipelines_loss_and_prints_the_study_row(tiny_ws):
    import torch

    from benchmarks.conv_variant import ConvVAE
    from pipelines import stages
    from pipelines.dataset import TrainingSet

    for stage in (stages.ingest_ecg, stages.validate_ecg, stages.heartbeats):
        stage(tiny_ws)
    data = TrainingSet.load(tiny_ws.heartbeats)
    model = ConvVAE(len(data.channels), data.x.shape[1] // len(data.channels), 10, 8, 0.5, 2.0)
    x = torch.as_tensor(data.x[:5])
    assert model.encode(x)[0].shape == (5, 10) and model(x).shape == x.shape  # data units in, data units out
    args = [str(tiny_ws.heartbeats), "--seeds", "2", "--configs", "tc12", "--width", "8", "--epochs", "1",
            "--params", str(tiny_ws.params_path)]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "benchmarks.conv_variant", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"\| conv tc12 \| -?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\] \|", done.stdout)
    assert "tc12 seed 1 epoch 1/1" in done.stderr


def test_the_rpeak_benchmark_scores_both_detectors_against_the_ludb_marks(tmp_path):
    from benchmarks.rpeaks import ludb_table
    from tests.conftest import ludb_copy

    rows = ludb_table(ludb_copy(tmp_path, ("data/1", "data/2")))
    scored = [row.split(" | ") for row in rows[2:]]
    assert sorted((r[1], r[2]) for r in scored) == sorted(
        (scope, name) for scope in ("lead ii", "all 12 leads") for name in ("ours (pipelines.ecg.rpeaks)",
                                                                             "wfdb xqrs_detect"))  # fmt: skip
    assert all(float(r[5].rstrip(" |")) > 0.9 for r in scored if r[2].startswith("ours"))  # two clean sinus records


def test_the_unlabelled_variant_scales_other_databases_beats_to_ludb_and_scores_on_ludb(ludb_ws, tmp_path):
    import shutil

    import numpy as np

    from benchmarks.unlabelled_variant import LUDB_BOUND, median_ptp, unlabelled_beats
    from pipelines.dataset import TrainingSet
    from pipelines.ecg.beats import beat_rows, record_beats
    from pipelines.params import Params
    from tests.conftest import shared

    record = "patient001/s0010_re"  # 38 s, PTB's 12 standard leads and Frank's 3 (left out)
    ptb = tmp_path / "ptbdb"
    (ptb / "patient001").mkdir(parents=True)
    for path in shared("ptbdb", "patient001").glob("s0010_re.*"):
        shutil.copy(path, ptb / "patient001" / path.name)
    (ptb / "RECORDS").write_text(f"{record}\n")
    data, params = TrainingSet.load(ludb_ws.training_set("ludb")), Params.load(ludb_ws.params_path)
    length = len(data.axis)  # the beat channel's points
    rows = unlabelled_beats(ptb, data, params)
    assert rows.shape[1] == data.x.shape[1] and len(rows) > 12 * 20  # ~40 beats on each of 12 leads
    assert np.abs(rows[:, :length]).max() <= LUDB_BOUND
    assert abs(median_ptp(rows, length) - median_ptp(data.part("train").x, length)) < 0.05  # LUDB's units
    lead_ii = record_beats(ptb, record, 1000.0, params.beats)[0]  # params' beats: lead II, R peaks on it
    rr = beat_rows(lead_ii.cut, params.beats)[lead_ii.reasons == "", length:]
    assert np.isin(rr[:, 0].astype(np.float32), rows[:, length]).all()  # the RR channel as cut: s, not scaled

    args = [str(ludb_ws.training_set("ludb")), "--wfdb", str(ptb), "--seeds", "2", "--configs", "tc12",
            "--epochs", "1", "--params", str(ludb_ws.params_path)]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "benchmarks.unlabelled_variant", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"ptbdb {len(rows):,})" in done.stdout and "scored on LUDB's test split" in done.stdout
    assert re.search(r"\| \+unlabelled tc12 \| -?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\] \|", done.stdout)
    assert re.search(r"\| PCA-10 \|", done.stdout) and "tc12/seed1 epoch 1/1" in done.stderr
