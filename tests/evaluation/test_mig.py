"""MIG on cases whose answer is known (as disentanglement_lib's mig_test.py)."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.evaluation.discretize import discrete_entropy, discrete_mutual_info, discretize_factors
from pipelines.evaluation.mig import mig


@pytest.fixture
def factors():
    return np.random.default_rng(0).normal(size=(3, 3000))


def test_mig_is_near_one_when_each_code_copies_one_factor(factors):
    assert 0.9 <= mig(factors, factors)["mig"] <= 1.0


def test_mig_is_near_zero_for_noise_codes(factors):
    noise = np.random.default_rng(1).normal(size=(5, 3000))
    assert 0.0 <= mig(noise, factors)["mig"] < 0.05


def test_mig_is_near_zero_when_a_factor_is_copied_into_two_codes(factors):
    codes = np.vstack([factors[0], factors[0], factors[1], factors[2]])
    per_factor = mig(codes, factors)["mig_per_factor"]
    assert per_factor[0] < 0.05 and per_factor[1] > 0.9


def test_mig_is_unchanged_by_permuting_codes(factors):
    codes = np.vstack([factors, np.random.default_rng(2).normal(size=(2, 3000))])
    assert mig(codes[::-1], factors)["mig"] == pytest.approx(mig(codes, factors)["mig"])


def test_two_codes_copying_a_fair_coin_share_log_2_nats():
    coin = np.tile([0, 1], 50)[None]
    assert discrete_mutual_info(coin, coin)[0, 0] == pytest.approx(np.log(2))
    assert discrete_entropy(coin)[0] == pytest.approx(np.log(2))


def test_discrete_factors_keep_their_categories():
    assert discretize_factors(np.array([[3.0, 7.0, 3.0, 9.0]])).tolist() == [[0, 1, 0, 2]]


def test_constant_factor_is_left_out_not_divided_by_zero(factors):
    with_constant = np.vstack([factors, np.ones((1, 3000))])
    result = mig(with_constant[:3], with_constant)
    assert np.isnan(result["mig_per_factor"][3]) and np.isfinite(result["mig"])


def test_mismatched_point_counts_raise():
    with pytest.raises(ValueError, match="points"):
        mig(np.zeros((2, 10)), np.zeros((1, 11)))


def test_mutual_information_is_sklearns_to_the_last_bit():
    from sklearn.metrics import mutual_info_score

    rng = np.random.default_rng(0)
    binned = discretize_factors(rng.normal(size=(4, 2000)))  # 20 bins, some empty at the tails
    mixed = np.vstack([binned, binned[0] // 3, rng.integers(0, 2, 2000), np.full(2000, 5), binned[1] * 7 - 40])
    got, entropy = discrete_mutual_info(mixed, mixed[::-1]), discrete_entropy(mixed)
    for i, code in enumerate(mixed):
        assert entropy[i] == mutual_info_score(code, code)
        for j, factor in enumerate(mixed[::-1]):
            assert got[i, j] == mutual_info_score(factor, code), (i, j)
    assert got[6].tolist() == [0.0] * len(mixed)  # a constant code shares nothing
