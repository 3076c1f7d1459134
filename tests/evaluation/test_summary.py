"""The per-model metrics: reconstruction and KL on the test split, MIG on (a sample of) all points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.dataset import TrainingSet
from pipelines.evaluation.summary import EvalConfig, summarize_model
from pipelines.vae.regularizers import LossConfig
from pipelines.vae.trainer import TrainConfig, train_vae


@pytest.fixture(scope="module")
def ramps():
    """Ramps whose slope and offset are the factors; the last quarter is the test split."""
    rng = np.random.default_rng(0)
    slope, offset = rng.uniform(-1, 1, 400), rng.uniform(-1, 1, 400)
    x = (slope[:, None] * np.linspace(0, 1, 32)[None, :] + offset[:, None]).astype(np.float32)
    return TrainingSet(x=x, axis=np.arange(32.0), axis_label="t", value_label="v",
                       factors=np.column_stack([slope, offset]), factor_names=["slope", "offset"],
                       factor_kind="generative", split=np.where(np.arange(400) < 300, "train", "test"),
                       labels=pd.DataFrame({"i": np.arange(400)}))  # fmt: skip


def test_every_score_comes_from_the_test_split(ramps):
    model, _ = train_vae(ramps.part("train").x, TrainConfig(epochs=20, hidden=(32,)), LossConfig("b1", "beta"))
    summary = summarize_model(model, ramps, EvalConfig(mig_points=80))
    assert summary["n_test"] == 100 and summary["mig_points"] == 80  # a sample of the 100 test points
    assert summarize_model(model, ramps, EvalConfig(mig_points=250))["mig_points"] == 100  # never beyond them
    assert len(summary["kl_per_latent"]) == 10 and summary["kl_total"] == pytest.approx(sum(summary["kl_per_latent"]))
    assert summary["recon_rmse"] < ramps.x.std()  # it learned something in 20 epochs
    assert 0.0 <= summary["mig"] <= 1.0 and len(summary["mig_per_factor"]) == 2
