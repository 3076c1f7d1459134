"""Zero-shot reuse on the real MIT-BIH and exchange files: beats and windows cut by the project's recipes, and a
latent shift that is zero on the source itself and shows on other data."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from pipelines.dataset import TrainingSet
from pipelines.ecg.beats import BeatConfig, beat_axis_ms
from pipelines.evaluation.transfer import bar_windows, shift_report, wfdb_beats
from pipelines.exchange.windows import WindowConfig
from pipelines.vae.regularizers import LossConfig
from pipelines.vae.trainer import TrainConfig, train_vae
from tests.conftest import shared


def test_mitdb_beats_are_cut_by_the_project_recipe():
    beats, used = wfdb_beats(shared("mitdb"), BeatConfig())
    assert used == ["100", "101", "103", "106", "119", "200", "210"]  # every record has an MLII lead
    assert beats.shape[1] == len(beat_axis_ms(BeatConfig())) == 187 and len(beats) > 10_000
    r = np.flatnonzero(beat_axis_ms(BeatConfig()) == 0)[0]
    assert (np.abs(beats[:, r]) >= 0.5 * np.abs(beats).max(axis=1)).mean() > 0.8  # R at t = 0


def test_records_that_cannot_be_cut_are_left_out_with_their_reason_logged(tmp_path, caplog):
    for suffix in (".hea", ".dat"):
        shutil.copy(shared("mitdb", f"100{suffix}"), tmp_path)
    (tmp_path / "RECORDS").write_text("../mitdb/100\n100\n")  # a name leaving the folder, a record without V1
    with caplog.at_level("WARNING", logger="pipelines.evaluation.transfer"):
        beats, used = wfdb_beats(tmp_path, BeatConfig(), lead="v1")
    assert beats.shape == (0, 0) and used == []
    assert "transfer: ../mitdb/100 left out: '../mitdb/100': path would leave the source directory" in caplog.text
    assert "transfer: 100 left out: 100: lead(s) ['v1'] not in record" in caplog.text


def test_exchange_windows_of_another_period():
    windows = bar_windows(shared("exchange"), WindowConfig())
    assert windows.shape == (44, 180) and np.allclose(windows[:, 0], 0.0)


@pytest.fixture(scope="module")
def trained():
    """A small model trained on sine waves, and a held-out set of the same waves as its source test split."""
    rng = np.random.default_rng(0)
    t = np.linspace(0, 2 * np.pi, 48)
    x = (rng.uniform(0.5, 2.0, (400, 1)) * np.sin(t + rng.uniform(0, np.pi, (400, 1)))).astype(np.float32)
    model, _ = train_vae(
        x[:300], TrainConfig(epochs=15, hidden=(32,), device="cpu"), LossConfig("b4", "beta", beta=4.0)
    )
    source = TrainingSet(
        x=x[300:], axis=np.arange(48.0), axis_label="t", value_label="v", factors=np.zeros((100, 0)),
        factor_names=[], factor_kind="generative", split=np.full(100, "test"),
        labels=pd.DataFrame(index=range(100)),
    )  # fmt: skip
    return model, source


def test_shift_is_zero_on_the_source_itself_and_shows_on_other_data(trained):
    model, source = trained
    same = shift_report(model, source, source.x)
    assert same["recon_rmse_target"] == same["recon_rmse_source"]
    assert np.allclose(same["latent_shift_sd"], 0.0, atol=1e-6)
    other = shift_report(model, source, 3.0 * source.x + 1.0)  # larger and offset: outside the training range
    assert other["recon_rmse_target"] > 2 * other["recon_rmse_source"]
    assert other["mean_abs_shift_active"] > 0.5
