"""Linear probes: a latent that carries the label scores high, noise scores at chance, targets line up in time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.evaluation.auc import roc_auc
from pipelines.evaluation.probes import diagnosis_aurocs, healthy_vs_mi_auroc, next_volatility_r2, next_window_targets


def test_auroc_is_high_when_a_latent_carries_the_label_and_chance_for_noise():
    rng = np.random.default_rng(0)
    y = rng.random(800) < 0.5
    informative = np.c_[y + rng.normal(0, 0.5, 800), rng.normal(size=(800, 3))]
    noise = rng.normal(size=(800, 4))
    assert healthy_vs_mi_auroc(informative[:400], y[:400], informative[400:], y[400:]) > 0.8
    assert healthy_vs_mi_auroc(noise[:400], y[:400], noise[400:], y[400:]) == pytest.approx(0.5, abs=0.08)


def test_roc_auc_equals_sklearn_with_ties_and_per_column_labels():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(2)
    scores = rng.integers(0, 6, size=(300, 4)).astype(float)  # few distinct values: many ties
    labels = rng.random((300, 4)) < [0.1, 0.5, 0.9, 0.5]
    expected = [roc_auc_score(labels[:, k], scores[:, k]) for k in range(4)]
    np.testing.assert_allclose(roc_auc(labels, scores), expected, rtol=0, atol=1e-12)
    shared = labels[:, 1]  # one label vector for every column
    np.testing.assert_allclose(roc_auc(shared, scores), [roc_auc_score(shared, s) for s in scores.T], atol=1e-12)
    assert roc_auc(shared, scores[:, 0]) == pytest.approx(roc_auc_score(shared, scores[:, 0]), abs=1e-12)
    assert np.isnan(roc_auc(np.ones(300, bool), scores[:, 0]))  # one class: no AUC


def test_auroc_is_nan_when_a_split_holds_one_class():
    mu = np.zeros((10, 2))
    assert np.isnan(healthy_vs_mi_auroc(mu, [True] * 10, mu, [True, False] * 5))


def test_next_window_targets_are_the_log_vol_of_the_window_one_length_later():
    start = pd.date_range("2024-01-01", periods=6, freq="60min")
    labels = pd.DataFrame({"start": start, "realised_vol": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    target = next_window_targets(labels, window_min=180)
    np.testing.assert_allclose(target[:3], np.log([4.0, 5.0, 6.0]))
    assert np.isnan(target[3:]).all()  # no window starts 180 minutes after the last three


def test_volatility_probe_recovers_a_linear_signal():
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(300, 5))
    target = 2.0 * mu[:, 0] + rng.normal(0, 0.1, 300)
    assert next_volatility_r2(mu[:200], target[:200], mu[200:], target[200:]) > 0.95
    assert np.isnan(next_volatility_r2(mu[:5], target[:5], mu[200:], target[200:]))  # too few targets


def test_diagnosis_aurocs_find_the_latent_that_carries_it_with_a_subject_bootstrap_error():
    rng = np.random.default_rng(3)
    subjects = np.repeat(np.arange(60), 10)  # 10 beats per subject; the diagnosis is the subject's
    ischemia = np.repeat(rng.random(60) < 0.4, 10)
    mu = rng.normal(size=(600, 4))
    mu[:, 2] += 1.5 * ischemia  # latent 2 carries it
    labels = pd.DataFrame({"patient": subjects, "ischemia": ischemia, "lvh": np.zeros(600, bool)})
    train, test = subjects < 40, subjects >= 40
    out = diagnosis_aurocs(mu[train], labels[train], mu[test], labels[test])
    assert out["probe_ischemia_auroc"] > 0.8
    assert out["probe_ischemia_top_latent"] == 2 and out["probe_ischemia_top_latent_auroc"] > 0.8
    assert 0.0 < out["probe_ischemia_auroc_se"] < 0.1  # 20 test subjects resampled
    assert np.isnan(out["probe_lvh_auroc"]) and np.isnan(out["probe_lvh_auroc_se"])  # one class: no probe
