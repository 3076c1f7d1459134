"""The per-model metrics: reconstruction, KL and the disentanglement scores, all on the test split (MIG and its
siblings on a sample of it)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from pipelines.dataset import TrainingSet
from pipelines.evaluation.summary import EvalConfig, summarize_model
from pipelines.vae.regularizers import LossConfig
from pipelines.vae.trainer import TrainConfig, train_vae

SCORES = ["recon_rmse", "kl_total", "mig", "sap", "dci_disentanglement", "modularity", "gaussian_total_correlation"]


def ramp_set(seed: int) -> TrainingSet:
    """400 ramps whose slope and offset are the factors; the last quarter is the test split."""
    rng = np.random.default_rng(seed)
    slope, offset = rng.uniform(-1, 1, 400), rng.uniform(-1, 1, 400)
    x = (slope[:, None] * np.linspace(0, 1, 32)[None, :] + offset[:, None]).astype(np.float32)
    return TrainingSet(x=x, axis=np.arange(32.0), axis_label="t", value_label="v",
                       factors=np.column_stack([slope, offset]), factor_names=["slope", "offset"],
                       factor_kind="generative", split=np.where(np.arange(400) < 300, "train", "test"),
                       labels=pd.DataFrame({"i": np.arange(400)}))  # fmt: skip


def with_split_from(data: TrainingSet, other: TrainingSet, split: str) -> TrainingSet:
    """`data` with the samples and factors of its `split` rows taken from `other`'s same rows."""
    rows = (data.split == split)[:, None]
    return replace(data, x=np.where(rows, other.x, data.x), factors=np.where(rows, other.factors, data.factors))


@pytest.fixture(scope="module")
def ramps():
    return ramp_set(0)


@pytest.fixture(scope="module")
def model(ramps):
    model, _ = train_vae(ramps.part("train").x, TrainConfig(epochs=20, hidden=(32,)), LossConfig("b1", "beta"))
    return model


def test_every_score_comes_from_the_test_split(ramps, model):
    cfg = EvalConfig(mig_points=80)
    summary = summarize_model(model, ramps, cfg)
    other = ramp_set(1)
    assert summarize_model(model, with_split_from(ramps, other, "train"), cfg) == summary  # not one value moves
    moved = summarize_model(model, with_split_from(ramps, other, "test"), cfg)
    assert [name for name in SCORES if moved[name] == summary[name]] == []


def test_scores_use_a_sample_of_at_most_mig_points_test_points(ramps, model):
    summary = summarize_model(model, ramps, EvalConfig(mig_points=80))
    assert summary["n_test"] == 100 and summary["mig_points"] == 80  # a sample of the 100 test points
    assert summarize_model(model, ramps, EvalConfig(mig_points=250))["mig_points"] == 100  # never beyond them
    assert len(summary["kl_per_latent"]) == 10 and summary["kl_total"] == pytest.approx(sum(summary["kl_per_latent"]))
    assert summary["recon_rmse"] < ramps.x.std()  # it learned something in 20 epochs
    assert 0.0 <= summary["mig"] <= 1.0 and len(summary["mig_per_factor"]) == 2
