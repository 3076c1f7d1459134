"""BetaVAE and FactorVAE scores on a toy generator whose answers are known.

The generator draws four independent factors, factor i uniform on [i, i + 1] (equal spread, different ranges),
and observes them through a fixed random 6 x 4 mixing matrix plus Gaussian noise of std 0.01. Its pseudo-inverse
un-mixes the observations, so an encoder built on it recovers the factors up to that noise.

Thresholds, from 20 seeds at these sizes (batch 32, 300 training and 400 evaluation points):
  - codes equal to the factors (permuted, rescaled, sign-flipped, plus two near-constant codes) score 1.0 on both;
  - noise codes independent of the input score 0.205-0.305 eval (chance 1/4; binomial std over 400 evaluation
    points sqrt(0.25 * 0.75 / 400) = 0.022, so the tolerance of 0.1 is about 4.5 std);
  - an equal-weight orthogonal mix of all factors (a scaled Hadamard matrix) also scores chance: every code moves
    the same whichever factor is fixed;
  - a random rotation scores 0.73-0.82 eval on FactorVAE: a code still leans towards one factor, so the score is
    high but clearly below 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from scipy.stats import ortho_group

from pipelines.evaluation.intervention import (
    _fixed_factor_batches,
    beta_vae_features,
    beta_vae_score,
    factor_vae_score,
    majority_vote_accuracy,
    prune_dims,
)

NUM_FACTORS = 4
CHANCE = 1 / NUM_FACTORS
SIZES = {"batch_size": 32, "num_train": 300, "num_eval": 400}
HADAMARD = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2.0  # orthogonal


@dataclass
class LinearMix:
    """Toy generator: independent uniform factors, linearly mixed into 6 observed values plus small noise."""

    factor_names: list[str] = field(default_factory=lambda: ["a", "b", "c", "d"])
    mixing: np.ndarray = field(default_factory=lambda: np.random.default_rng(0).normal(size=(6, NUM_FACTORS)))
    noise: float = 0.01

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        low = np.arange(NUM_FACTORS, dtype=np.float64)
        return rng.uniform(low, low + 1.0, size=(n, NUM_FACTORS))

    def observe(self, factors: np.ndarray, rng: np.random.Generator, fixed=None) -> np.ndarray:
        return factors @ self.mixing.T + self.noise * rng.normal(size=(len(factors), self.mixing.shape[0]))


GENERATOR = LinearMix()
UNMIX = np.linalg.pinv(GENERATOR.mixing)  # (4, 6)


def perfect(x: np.ndarray) -> np.ndarray:
    """Factors permuted, rescaled and sign-flipped, plus two codes of std ~1e-3 (collapsed to the prior)."""
    z = (x @ UNMIX.T)[:, [2, 0, 3, 1]] * np.array([1.0, -3.0, 0.5, -1.0])
    return np.hstack([z, 1e-3 * x[:, :2]])


def noise_encoder(seed: int = 123):
    rng = np.random.default_rng(seed)
    return lambda x: rng.normal(size=(len(x), 6))


def mixed(x: np.ndarray) -> np.ndarray:
    return (x @ UNMIX.T) @ HADAMARD.T


def rotated(x: np.ndarray) -> np.ndarray:
    return (x @ UNMIX.T) @ ortho_group.rvs(NUM_FACTORS, random_state=0).T


def beta_vae_eval(encode, seed: int = 0) -> float:
    return beta_vae_score(GENERATOR, encode, seed=seed, **SIZES)["beta_vae_eval"]


def factor_vae_eval(encode, seed: int = 0) -> float:
    return factor_vae_score(GENERATOR, encode, num_variance_estimate=1000, seed=seed, **SIZES)["factor_vae_eval"]


SCORES = [beta_vae_eval, factor_vae_eval]


# --- known answers on the toy generator ---


@pytest.mark.parametrize("score", SCORES)
def test_codes_that_recover_the_factors_score_one(score):
    assert score(perfect) > 0.95


@pytest.mark.parametrize("score", SCORES)
def test_noise_codes_score_chance(score):
    assert abs(score(noise_encoder()) - CHANCE) < 0.1


@pytest.mark.parametrize("score", SCORES)
def test_equal_mix_of_all_factors_scores_chance(score):
    assert abs(score(mixed) - CHANCE) < 0.1


def test_factor_vae_scores_a_rotation_clearly_below_recovered_factors():
    assert factor_vae_eval(rotated) < 0.9 < factor_vae_eval(perfect)


def test_factor_vae_prunes_collapsed_codes():
    scores = factor_vae_score(GENERATOR, perfect, num_variance_estimate=500, **SIZES)
    assert scores["num_active_dims"] == NUM_FACTORS


def test_factor_vae_scores_zero_when_every_code_collapsed():
    collapsed = factor_vae_score(GENERATOR, lambda x: 1e-3 * x, num_variance_estimate=500, **SIZES)
    assert collapsed == {"factor_vae_train": 0.0, "factor_vae_eval": 0.0, "num_active_dims": 0}


@pytest.mark.parametrize("score", [beta_vae_score, factor_vae_score])
def test_same_seed_gives_same_scores(score):
    sizes = {"batch_size": 8, "num_train": 50, "num_eval": 50}
    assert score(GENERATOR, rotated, seed=3, **sizes) == score(GENERATOR, rotated, seed=3, **sizes)


# --- the pieces, by hand ---


def test_fixed_factor_takes_one_value_per_batch_and_others_vary():
    labels, factors = _fixed_factor_batches(GENERATOR, 20, 5, np.random.default_rng(0))
    assert factors.shape == (20, 5, NUM_FACTORS)
    for k, batch in zip(labels, factors, strict=True):
        assert np.all(batch[:, k] == batch[0, k])
        others = np.delete(batch, k, axis=1)
        assert np.all(others.std(axis=0) > 0)


def test_beta_vae_pairs_share_one_factor_whose_value_varies_between_pairs():
    """As disentanglement_lib: pair i shares factor k at its own value (not one value for the whole batch)."""
    seen = []

    class Recording(LinearMix):
        def observe(self, factors, rng, fixed=None):
            seen.append(factors.copy())
            return super().observe(factors, rng)

    beta_vae_score(Recording(), perfect, batch_size=6, num_train=3, num_eval=3)
    factors1, factors2 = seen[0].reshape(3, 6, NUM_FACTORS), seen[1].reshape(3, 6, NUM_FACTORS)
    for batch1, batch2 in zip(factors1, factors2, strict=True):
        shared = np.all(batch1 == batch2, axis=0)
        assert shared.sum() == 1 and batch1[:, shared].std() > 0


def test_beta_vae_feature_is_mean_absolute_difference():
    codes1 = np.zeros((1, 2, 2))
    codes2 = np.array([[[1.0, -2.0], [3.0, 0.0]]])
    assert beta_vae_features(codes1, codes2).tolist() == [[2.0, 1.0]]


def test_majority_vote_classifier_by_hand():
    train = np.array([[3, 0], [1, 2]])  # code 0 -> factor 0, code 1 -> factor 1
    evaluation = np.array([[1, 1], [0, 2]])
    assert majority_vote_accuracy(train, evaluation) == pytest.approx((5 / 6, 3 / 4))


def test_prune_dims_keeps_codes_with_std_at_least_threshold():
    assert prune_dims(np.array([0.0, 1e-4, 0.01, 1.0]), threshold=0.1).tolist() == [False, False, True, True]


# --- bad input ---


@pytest.mark.parametrize("score", [beta_vae_score, factor_vae_score])
def test_encoder_returning_wrong_shape_raises(score):
    with pytest.raises(ValueError, match="encode returned codes of shape"):
        score(GENERATOR, lambda x: x[:, 0], batch_size=4, num_train=4, num_eval=4)


def test_encoder_returning_nan_raises():
    with pytest.raises(ValueError, match="non-finite"):
        beta_vae_score(GENERATOR, lambda x: np.full_like(x, np.nan), batch_size=4, num_train=4, num_eval=4)


def test_generator_returning_wrong_factor_shape_raises():
    class Broken(LinearMix):
        def sample_factors(self, n, rng):
            return super().sample_factors(n, rng).T

    with pytest.raises(ValueError, match="sample_factors returned shape"):
        beta_vae_score(Broken(), perfect, batch_size=4, num_train=4, num_eval=4)


def test_factor_vae_needs_two_points_per_batch():
    with pytest.raises(ValueError, match="batch_size must be at least 2"):
        factor_vae_score(GENERATOR, perfect, batch_size=1)


# --- held-out samples as the generator ---


def _samples(n=3000, seed=1):
    """n observations of LinearMix with their factors: what a test split with known factors is."""
    rng = np.random.default_rng(seed)
    factors = GENERATOR.sample_factors(n, rng)
    return GENERATOR.observe(factors, rng), factors


def test_sample_generator_holds_the_fixed_factor_within_its_pool_and_draws_the_rest():
    from pipelines.evaluation.intervention import SampleGenerator

    x, factors = _samples()
    gen = SampleGenerator(x, factors, GENERATOR.factor_names, pool=32)
    rng = np.random.default_rng(0)
    wanted = gen.sample_factors(1, rng).repeat(200, axis=0)
    held = gen.observe(wanted, rng, fixed=np.full(200, 2))
    got = factors[[np.flatnonzero((x == row).all(axis=1))[0] for row in held]]
    assert np.abs(got[:, 2] - wanted[0, 2]).max() < 0.03  # 32 of 3000 samples: ~1% of the factor's range
    assert got[:, 0].std() > 0.2 and len(np.unique(got[:, 0])) > 20  # the other factors vary (uniform std 0.29)
    exact = gen.sample_factors(5, rng)
    np.testing.assert_array_equal(gen.observe(exact, rng), x[[gen._row[f.tobytes()] for f in exact]])
    with pytest.raises(ValueError, match="not a sample's"):
        gen.observe(exact + 0.5, rng)


@pytest.mark.parametrize("score", [beta_vae_score, factor_vae_score])
def test_scores_on_held_out_samples_keep_their_known_answers(score):
    from pipelines.evaluation.intervention import SampleGenerator

    gen = SampleGenerator(*_samples(), GENERATOR.factor_names)
    key = "beta_vae_eval" if score is beta_vae_score else "factor_vae_eval"
    assert score(gen, perfect, **SIZES)[key] > 0.95
    assert abs(score(gen, noise_encoder(), **SIZES)[key] - CHANCE) < 0.1
