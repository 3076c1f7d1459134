"""The factors heartbeats carry (pipelines.ecg.factors): true factors matched by R peak, morphology proxies."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from pipelines.ecg.beats import BeatConfig, segment_beats
from pipelines.ecg.factors import (
    PROXY_FACTORS,
    match_factors,
    morphology,
    proxy_factors,
    read_true_factors,
    record_factors,
)
from pipelines.ecg.records import ingest_records
from pipelines.synthetic.ecg import SyntheticEcgConfig, generate_ecg


def test_match_factors_picks_the_nearest_true_beat_within_tolerance():
    true = pd.DataFrame({"r_sample": [100, 900, 1700]})
    nearest, matched = match_factors(true, np.array([90, 510, 1000, 1690, 5000]), tol=20)
    assert nearest.tolist() == [0, 1, 1, 2, 2]
    assert matched.tolist() == [True, False, False, True, False]


def test_record_factors_are_the_records_rows_sorted_by_r_peak():
    table = pd.DataFrame({"record": ["a", "b", "a"], "r_sample": [500, 10, 100], "st_mv": [0.1, 0.2, 0.3]})
    rows = record_factors(table, "a")
    assert rows.r_sample.tolist() == [100, 500] and rows.st_mv.tolist() == [0.3, 0.1]
    assert record_factors(table, "c").empty and record_factors(None, "a") is None


def test_real_data_without_a_factors_file_carries_proxy_factors(tmp_path):
    assert read_true_factors(tmp_path) == (None, PROXY_FACTORS)


def test_proxy_factors_are_heart_rate_morphology_and_the_healthy_flag():
    axis_ms = (np.arange(150) - 31) / 125.0 * 1000.0
    beats = np.zeros((2, 150))
    beats[:, 30:33] = [0.5, 1.0, 0.5]  # a QRS at R (sample 31)
    factors = proxy_factors(beats, np.array([1.0, 0.5]), axis_ms, healthy=True)
    assert factors.shape == (2, len(PROXY_FACTORS))
    assert factors[:, 0].tolist() == [60.0, 120.0] and (factors[:, 4] == 1.0).all()
    assert np.allclose(factors[:, 1], 16.0) and np.allclose(factors[:, 2:4], 0.0)  # QRS from -8 to +8 ms


def test_morphology_proxies_track_the_generators_qrs_st_and_t(tmp_path):
    generate_ecg(tmp_path / "ecg", SyntheticEcgConfig(n_patients=6, duration_s=30.0))
    records, _ = ingest_records(tmp_path / "ecg")
    beats, _ = segment_beats(records, tmp_path / "ecg", BeatConfig())
    proxies = morphology(beats.x.astype(float), beats.axis)  # the centred recipe's beats are in mV
    truth = {name: beats.factors[:, i] for i, name in enumerate(beats.factor_names)}
    assert spearmanr(proxies[:, 0], truth["qrs_s"]).statistic > 0.6
    assert spearmanr(proxies[:, 1], truth["st_mv"]).statistic > 0.9
    assert spearmanr(proxies[:, 2], truth["t_mv"]).statistic > 0.7
