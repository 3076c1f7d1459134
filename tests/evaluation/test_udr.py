"""UDR on cases whose answer is known, and disentanglement_lib's udr_test.py expectations where they carry over.

Models are built from four shared Gaussian sources on N = 2000 points, each with two extra collapsed latents (KL
below the 0.01-nat threshold):
  - "disentangled": the sources permuted, rescaled and sign-flipped. Each informative latent correlates exactly
    with one latent of the other model (|rho| = 1) and by chance with the others (the sample Spearman correlations
    of the sources, |rho| ~ sqrt(2 / (pi (N - 1))) = 0.018 on average), so the score is the mean over sources b of
    1 / sum_a |rho_ab|: 0.97 for these sources, about 0.95 on average, not 1. Lasso on standardised codes shrinks
    the one coefficient to 1 - alpha = 0.9 and the others to 0, so its score is 0.9.
  - "noise": informative latents drawn independently for each model: Spearman |rho| ~ 0.02 everywhere, score < 0.05;
    Lasso zeroes every coefficient, score 0.
  - "rotated": a different random rotation of the sources per model (entangled): 0.3-0.45 on both methods.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ortho_group, spearmanr

from pipelines.evaluation.udr import (
    lasso_correlation_matrix,
    relative_strength_disentanglement,
    spearman_correlation_matrix,
    udr,
)

N, K, NUM_MODELS = 2000, 4, 4
SOURCES = np.random.default_rng(0).normal(size=(K, N))


def make_model(kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes (K + 2, N) and KL per latent (K + 2,) of one model: K informative latents, then two collapsed."""
    rng = np.random.default_rng(100 + seed)
    if kind == "disentangled":
        informative = SOURCES[rng.permutation(K)] * rng.choice([-1.0, 1.0], (K, 1)) * rng.uniform(0.5, 2.0, (K, 1))
    elif kind == "noise":
        informative = rng.normal(size=(K, N))
    else:
        informative = ortho_group.rvs(K, random_state=100 + seed) @ SOURCES
    codes = np.vstack([informative, 0.01 * rng.normal(size=(2, N))])
    kl = np.r_[rng.uniform(0.5, 3.0, K), 0.001, 0.005]
    return codes, kl


def udr_of(kind: str, **kwargs) -> dict:
    models = [make_model(kind, m) for m in range(NUM_MODELS)]
    return udr([c for c, _ in models], [k for _, k in models], **kwargs)


# --- known answers ---


def test_models_equal_up_to_permutation_and_sign_score_near_one():
    rho = np.abs(spearmanr(SOURCES.T).statistic)  # (K, K), ones on the diagonal
    expected = np.mean(1 / rho.sum(axis=0))
    scores = udr_of("disentangled")["udr"]
    assert scores == pytest.approx([expected] * NUM_MODELS, abs=1e-9) and min(scores) > 0.9


def test_lasso_scores_disentangled_models_one_minus_alpha():
    assert np.allclose(udr_of("disentangled", method="lasso")["udr"], 0.9, atol=0.01)


@pytest.mark.parametrize("method", ["spearman", "lasso"])
def test_models_of_independent_noise_score_near_zero(method):
    assert max(udr_of("noise", method=method)["udr"]) < 0.05


@pytest.mark.parametrize("method", ["spearman", "lasso"])
def test_rotated_models_score_between_noise_and_disentangled(method):
    scores = udr_of("rotated", method=method)["udr"]
    assert 0.2 < min(scores) and max(scores) < 0.6


def test_the_model_that_disagrees_with_the_others_ranks_last():
    models = [make_model("disentangled", m) for m in range(3)] + [make_model("rotated", 0)]
    scores = udr([c for c, _ in models], [k for _, k in models])["udr"]
    assert np.argmin(scores) == 3 and scores[3] < 0.6 < min(scores[:3])


def test_collapsed_latents_are_counted_and_left_out():
    result = udr_of("disentangled")
    assert result["num_informative"] == [K] * NUM_MODELS
    assert np.isnan(np.diag(result["pairwise"])).all()


def test_only_informative_latent_shared_scores_one_filtered_and_one_over_d_unfiltered():
    """disentanglement_lib's test_metric_kl: one informative latent shared, nine of noise with zero KL. Unfiltered,
    the zeroed latents count as matching nothing, so the score is divided by the 10 latents."""
    rng = np.random.default_rng(0)
    shared = rng.uniform(size=(1, 1000))
    codes = [np.vstack([shared, rng.uniform(size=(9, 1000))]) for _ in range(2)]
    kl = [np.r_[1.0, np.zeros(9)]] * 2
    for method, shared_score in (("spearman", 1.0), ("lasso", 0.9)):  # Lasso shrinks the coefficient by alpha
        assert udr(codes, kl, method=method)["udr"] == pytest.approx([shared_score] * 2, abs=0.01)
        unfiltered = udr(codes, kl, method=method, filter_low_kl=False)["udr"]
        assert unfiltered == pytest.approx([shared_score / 10] * 2, abs=0.01)


def test_a_fully_collapsed_model_scores_zero_against_the_others():
    (codes, kl), (other, other_kl) = make_model("disentangled", 0), make_model("disentangled", 1)
    result = udr([codes, other], [np.zeros_like(kl), other_kl])
    assert result["pairwise"][0][1] == 0.0 and result["pairwise"][1][0] == 0.0


# --- properties ---


def test_permuting_and_flipping_latents_of_one_model_leaves_udr_unchanged():
    models = [make_model("rotated", m) for m in range(3)]
    base = udr([c for c, _ in models], [k for _, k in models])["udr"]
    order = np.random.default_rng(1).permutation(K + 2)
    codes, kl = models[0]
    models[0] = (-codes[order], kl[order])
    assert udr([c for c, _ in models], [k for _, k in models])["udr"] == pytest.approx(base)


def test_spearman_pairwise_scores_are_symmetric():
    pairwise = np.array(udr_of("rotated")["pairwise"])
    assert np.allclose(pairwise, pairwise.T, equal_nan=True)


# --- the pieces, as disentanglement_lib's udr_test.py ---


def test_relative_strength_known_matrices():
    assert relative_strength_disentanglement(np.eye(3)) == 1.0
    block = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert relative_strength_disentanglement(block) == pytest.approx(2 / 3)
    assert relative_strength_disentanglement(np.ones((3, 3))) == pytest.approx(1 / 3)
    assert relative_strength_disentanglement(np.zeros((3, 3))) == 0.0
    assert relative_strength_disentanglement(np.zeros((0, 3))) == 0.0


def test_spearman_matrix_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 200)), rng.exponential(size=(4, 200))
    expected = np.abs(spearmanr(a.T, b.T).statistic[:3, 3:])
    assert np.allclose(spearman_correlation_matrix(a, b), expected, atol=1e-12)


@pytest.mark.parametrize("similarity", [spearman_correlation_matrix, lasso_correlation_matrix])
def test_similarity_of_copied_and_duplicated_codes(similarity):
    rng = np.random.default_rng(0)
    codes = rng.uniform(size=(3, 1000)) * 10.0
    assert np.allclose(similarity(codes, codes.copy()), np.eye(3), atol=0.2)
    duplicated = codes.copy()
    duplicated[1] = duplicated[0]
    expected = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    assert np.allclose(similarity(codes, duplicated), expected, atol=0.2)


# --- bad input ---


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="unknown UDR method 'pearson'"):
        udr_of("noise", method="pearson")


def test_a_single_model_raises():
    codes, kl = make_model("noise", 0)
    with pytest.raises(ValueError, match="at least two"):
        udr([codes], [kl])


def test_models_on_different_points_raise():
    (codes, kl), (other, other_kl) = make_model("noise", 0), make_model("noise", 1)
    with pytest.raises(ValueError, match="model 1: codes have 1999 points, model 0 has 2000"):
        udr([codes, other[:, :-1]], [kl, other_kl])


def test_kl_that_does_not_match_the_codes_raises():
    (codes, kl), (other, other_kl) = make_model("noise", 0), make_model("noise", 1)
    with pytest.raises(ValueError, match=r"model 1: kl has shape \(5,\), expected \(6,\)"):
        udr([codes, other], [kl, other_kl[:-1]])


def test_codes_given_points_first_raise():
    (codes, kl), (other, other_kl) = make_model("noise", 0), make_model("noise", 1)
    with pytest.raises(ValueError, match=r"model 0: kl has shape \(6,\), expected \(2000,\)"):
        udr([codes.T, other.T], [kl, other_kl])
