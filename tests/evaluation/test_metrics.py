"""SAP, DCI, modularity/explicitness and the unsupervised scores on cases whose answer is known, and MIG, SAP, DCI,
modularity and the Gaussian scores against the published formulas written out independently below (plain numpy,
entropies from counts) on one small fixed data set. benchmarks/metrics_fixture.py prints the same comparison.

Thresholds: on 2,000 uniform points, copied factors score >= 0.96 on MIG (20-bin estimates lose a few percent) and
~1 elsewhere; an orthogonal mix with equal weights (a scaled Hadamard matrix) scores < 0.02; random rotations
(scipy ortho_group, 100 seeds) reach at most MIG 0.33 and SAP 0.69, DCI disentanglement 0.15-0.38 over six seeds,
so only MIG and DCI are asserted low there, with margin.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ortho_group

from pipelines.evaluation.dci import dci, dci_scores, split_points
from pipelines.evaluation.mig import mig
from pipelines.evaluation.modularity import _one_vs_rest_auc, modularity, modularity_score
from pipelines.evaluation.sap import sap
from pipelines.evaluation.unsupervised import (
    active_units,
    gaussian_total_correlation,
    gaussian_wasserstein_correlation,
    unsupervised,
)

N = 2000
TREES = 5  # gradient-boosted trees per class: enough for these cases, ~0.6 s per DCI call
HADAMARD = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2.0  # orthogonal


@pytest.fixture(scope="module")
def factors():
    """Four independent uniform factors of different scales (so that mixing them correlates the codes)."""
    return np.random.default_rng(0).uniform(size=(4, N)) * np.arange(1.0, 5.0)[:, None]


@pytest.fixture(scope="module")
def cases(factors):
    noise = np.random.default_rng(1).normal(size=(4, N))
    return {
        "copied": factors,
        "mixed": HADAMARD @ factors,
        "rotated": ortho_group.rvs(4, random_state=0) @ factors,
        "duplicated": np.vstack([factors[0], factors[0], factors[1], factors[2], factors[3]]),
        "noise": noise,
    }


@pytest.fixture(scope="module")
def dcis(cases, factors):
    return {
        name: dci(cases[name], factors, n_estimators=TREES) for name in ("copied", "mixed", "rotated", "duplicated")
    }


# --- copied factors: every metric near its maximum ---


def test_copied_factors_score_high(cases, factors, dcis):
    copied = cases["copied"]
    assert mig(copied, factors)["mig"] > 0.95
    assert sap(copied, factors)["sap"] > 0.99
    assert dcis["copied"]["dci_disentanglement"] > 0.99 and dcis["copied"]["dci_completeness"] > 0.99
    assert dcis["copied"]["dci_informativeness_test"] > 0.98
    scores = modularity(copied, factors)
    assert scores["modularity"] > 0.99 and scores["explicitness_test"] > 0.9


def test_copied_factors_plus_noise_codes_keep_mig_sap_and_dci(cases, factors):
    codes = np.vstack([cases["copied"], cases["noise"]])
    assert mig(codes, factors)["mig"] > 0.95 and sap(codes, factors)["sap"] > 0.99
    scores = dci(codes, factors, n_estimators=TREES)
    assert scores["dci_disentanglement"] > 0.95 and scores["dci_completeness"] > 0.95


# --- mixed codes: disentanglement scores low ---


def test_equal_weight_rotation_scores_near_zero(cases, factors, dcis):
    mixed = cases["mixed"]
    assert mig(mixed, factors)["mig"] < 0.05
    assert sap(mixed, factors)["sap"] < 0.05
    assert dcis["mixed"]["dci_disentanglement"] < 0.05


def test_random_rotation_scores_well_below_copied(cases, factors, dcis):
    assert mig(cases["rotated"], factors)["mig"] < 0.4
    assert dcis["rotated"]["dci_disentanglement"] < 0.5


# --- a factor copied into two codes ---


def test_duplicated_factor_lowers_completeness_and_its_mig(cases, factors, dcis):
    dup = dcis["duplicated"]
    assert dup["dci_completeness"] < dcis["copied"]["dci_completeness"] - 0.05
    assert dup["dci_completeness_per_factor"][0] < 0.8 and min(dup["dci_completeness_per_factor"][1:]) > 0.95
    per_factor = mig(cases["duplicated"], factors)["mig_per_factor"]
    assert per_factor[0] < 0.01 and min(per_factor[1:]) > 0.95
    assert sap(cases["duplicated"], factors)["sap_per_factor"][0] < 1e-9  # identical codes, identical scores


# --- codes independent of the factors ---


def test_noise_codes_score_near_zero_and_chance(cases, factors):
    noise = cases["noise"]
    assert mig(noise, factors)["mig"] < 0.02
    assert sap(noise, factors)["sap"] < 0.02
    scores = dci(noise, factors, n_estimators=TREES)
    assert scores["dci_informativeness_test"] < 0.1  # 20 equally likely bins: chance is 0.05
    assert abs(modularity(noise, factors)["explicitness_test"] - 0.5) < 0.05


def test_explicitness_auc_is_sklearns_roc_auc_with_ties_and_absent_classes():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 5, size=300)
    labels[labels == 3] = 2  # class 3 has no point: skipped, as class 4's all-or-none would be
    proba = np.round(rng.uniform(size=(300, 5)), 1)  # rounded: many ties
    proba[:, 1] += 0.3 * (labels == 1)  # one class well separated
    expected = np.mean([roc_auc_score(labels == c, proba[:, c]) for c in (0, 1, 2, 4)])
    assert _one_vs_rest_auc(labels, proba, np.arange(5)) == pytest.approx(expected, abs=1e-12)
    assert np.isnan(_one_vs_rest_auc(np.zeros(10, int), proba[:10, :1], np.array([0])))


def test_sap_on_discrete_factors_uses_held_out_svm_accuracy():
    rng = np.random.default_rng(2)
    coins = rng.integers(0, 2, size=(3, N)).astype(float)
    codes = coins + 0.1 * rng.normal(size=coins.shape)
    result = sap(codes, coins, continuous=False)
    matrix = np.array(result["sap_matrix"])
    assert np.allclose(np.diag(matrix), 1.0) and np.all(np.abs(matrix[~np.eye(3, dtype=bool)] - 0.5) < 0.05)
    assert result == sap(codes, coins, continuous=False)  # seeded split: deterministic
    mixed_kinds = sap(codes, coins, continuous=[True, False, True])["sap_per_factor"]
    assert mixed_kinds[1] == pytest.approx(result["sap_per_factor"][1]) and mixed_kinds[0] > 0.9


def test_constant_factor_is_left_out(factors):
    with_constant = np.vstack([factors, np.ones((1, N))])
    result = sap(factors, with_constant)
    assert np.isnan(result["sap_per_factor"][4]) and result["sap"] > 0.99
    scores = dci_scores(np.hstack([np.eye(4), np.zeros((4, 1))]))
    assert np.isnan(scores["dci_completeness_per_factor"][4]) and scores["dci_completeness"] == pytest.approx(1.0)


# --- unsupervised scores ---


def test_gaussian_total_correlation_closed_forms():
    assert gaussian_total_correlation(np.diag([0.5, 2.0, 3.0])) == pytest.approx(0.0, abs=1e-12)
    rho, s1, s2 = 0.6, 2.0, 0.5
    cov = np.array([[s1**2, rho * s1 * s2], [rho * s1 * s2, s2**2]])
    assert gaussian_total_correlation(cov) == pytest.approx(-0.5 * np.log(1 - rho**2), rel=1e-12)
    unit = np.array([[1.0, rho], [rho, 1.0]])  # eigenvalues 1 +- rho
    expected = 4.0 - 2.0 * (np.sqrt(1 + rho) + np.sqrt(1 - rho))
    assert gaussian_wasserstein_correlation(unit) == pytest.approx(expected, rel=1e-9)
    assert gaussian_wasserstein_correlation(np.diag([0.5, 2.0])) == pytest.approx(0.0, abs=1e-12)


def test_unsupervised_scores_see_mixing_and_copies(cases):
    independent, mixed = unsupervised(cases["copied"]), unsupervised(cases["mixed"])
    assert independent["gaussian_total_correlation"] < 0.01 < 0.5 < mixed["gaussian_total_correlation"]
    assert mixed["gaussian_wasserstein_correlation"] > 10 * independent["gaussian_wasserstein_correlation"]
    code = cases["copied"][3]
    copies = unsupervised(np.vstack([code, code]))
    assert copies["mutual_info_score"] > 2.9  # log 20 = 3.0 nats for a uniform code in 20 bins
    assert copies["gaussian_total_correlation"] == np.inf
    # cov = v [[1, 1], [1, 1]]: eigenvalues of diag(cov) cov are 2 v^2 and 0, so W = 4 v - 2 sqrt(2) v
    expected = (4 - 2 * np.sqrt(2)) * np.var(code, ddof=1)
    assert copies["gaussian_wasserstein_correlation"] == pytest.approx(expected, rel=1e-9)
    assert independent["mutual_info_score"] < 0.1  # the 20 x 20-bin estimate's bias at 2,000 points


def test_constant_code_is_left_out_of_the_gaussian_scores(cases):
    codes = cases["copied"]
    with_constant = unsupervised(np.vstack([codes, np.zeros((1, N))]))
    assert with_constant["gaussian_total_correlation"] == pytest.approx(
        unsupervised(codes)["gaussian_total_correlation"]
    )


def test_active_units_counts_latents_above_threshold():
    assert active_units(np.array([0.5, 0.001, 0.02, 0.0])) == 2
    assert active_units(np.array([0.5, 0.001, 0.02, 0.0]), threshold=0.1) == 1
    per_sample = np.array([[0.0, 0.04], [0.0, 0.0]])  # latent 0 averages 0.02
    assert active_units(per_sample) == 1


# --- argument errors ---


@pytest.mark.parametrize(
    "call",
    [
        lambda: sap(np.zeros((2, 10)), np.zeros((1, 11))),
        lambda: dci(np.zeros((2, 10)), np.zeros((2, 11))),
        lambda: modularity(np.zeros((2, 10)), np.zeros((2, 11))),
    ],
)
def test_mismatched_point_counts_raise(call):
    with pytest.raises(ValueError, match="points"):
        call()


def test_bad_arguments_raise_clear_errors():
    codes, factors = np.random.default_rng(0).normal(size=(3, 50)), np.random.default_rng(1).normal(size=(2, 50))
    with pytest.raises(ValueError, match="continuous has 3 entries for 2 factors"):
        sap(codes, factors, continuous=[True, False, True])
    with pytest.raises(ValueError, match="at least two codes"):
        sap(codes[:1], factors)
    with pytest.raises(ValueError, match="test_fraction"):
        dci(codes, factors, test_fraction=1.0)
    with pytest.raises(ValueError, match="cannot be split"):
        split_points(1, 0.5, 0)
    with pytest.raises(ValueError, match="2-D"):
        modularity(codes[0], factors)
    with pytest.raises(ValueError, match="at least two factors"):
        modularity(codes, factors[:1])
    with pytest.raises(ValueError, match="importance matrix"):
        dci_scores(np.ones(3))
    with pytest.raises(ValueError, match="num_factors >= 2"):
        modularity_score(np.ones((3, 1)))
    with pytest.raises(ValueError, match="square"):
        gaussian_total_correlation(np.ones((2, 3)))
    with pytest.raises(ValueError, match="num_codes >= 2"):
        unsupervised(codes[:1])
    with pytest.raises(ValueError, match="kl_per_latent"):
        active_units(np.ones((2, 2, 2)))


# --- the published formulas, written out independently, on one fixed data set ---

NUM_BINS = 20
# A hand-written importance matrix (5 codes x 3 factors); each column sums to 1, as gradient-boosted trees' do.
HAND_IMPORTANCE = np.array([[0.7, 0.1, 0.0], [0.2, 0.6, 0.0], [0.1, 0.1, 0.5], [0.0, 0.2, 0.3], [0.0, 0.0, 0.2]])


def fixture_data() -> tuple[np.ndarray, np.ndarray]:
    """Codes (5, 400) and categorical factors (3, 400) with 4, 5 and 6 levels: codes 0-2 follow factors 0-2 (code 1
    also leans on factor 0), code 3 weakly on factor 1, code 4 is noise."""
    rng = np.random.default_rng(7)
    n = 400
    factors = np.vstack([rng.integers(0, k, n) for k in (4, 5, 6)]).astype(float)
    noise = rng.normal(size=(5, n))
    codes = np.vstack([
        factors[0] + 0.3 * noise[0],
        factors[1] + 0.5 * factors[0] + 0.5 * noise[1],
        -factors[2] + noise[2],
        0.2 * factors[1] + noise[3],
        noise[4],
    ])  # fmt: skip
    return codes, factors


def _entropy_from_counts(*columns: np.ndarray) -> float:
    """Joint entropy (nats) of the given discrete variables, from the counts of their distinct value tuples."""
    _, counts = np.unique(np.column_stack(columns), axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-np.sum(p * np.log(p)))


def _equal_width_bins(x: np.ndarray, num_bins: int = NUM_BINS) -> np.ndarray:
    return np.minimum(np.floor((x - x.min()) / (x.max() - x.min()) * num_bins), num_bins - 1).astype(int)


def independent_mutual_information(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """I(c_i; f_j) = H(c_i) + H(f_j) - H(c_i, f_j) for binned codes and categorical factors, (num_codes, F)."""
    binned = [_equal_width_bins(c) for c in codes]
    return np.array([
        [_entropy_from_counts(c) + _entropy_from_counts(f) - _entropy_from_counts(c, f) for f in factors]
        for c in binned
    ])  # fmt: skip


def independent_mig(codes: np.ndarray, factors: np.ndarray) -> float:
    """Chen et al. 2018, eq. 6: mean over factors of (largest - second largest I(c; f)) / H(f)."""
    mi = independent_mutual_information(codes, factors)
    gaps = []
    for j, f in enumerate(factors):
        top = sorted(mi[:, j], reverse=True)
        gaps.append((top[0] - top[1]) / _entropy_from_counts(f))
    return float(np.mean(gaps))


def independent_sap(codes: np.ndarray, factors: np.ndarray) -> float:
    """Kumar et al. 2018, Section 3: squared Pearson correlations, mean over factors of the top-two gap."""
    gaps = []
    for f in factors:
        r2 = []
        for c in codes:
            dc, df = c - c.mean(), f - f.mean()
            r2.append(np.sum(dc * df) ** 2 / (np.sum(dc * dc) * np.sum(df * df)))
        top = sorted(r2, reverse=True)
        gaps.append(top[0] - top[1])
    return float(np.mean(gaps))


def independent_dci(importance: np.ndarray) -> tuple[float, float]:
    """Eastwood & Williams 2018, Section 2: D = sum_i rho_i (1 - H_F(P_i.)), C = mean_j (1 - H_K(P~_.j))."""
    num_codes, num_factors = importance.shape
    total = sum(importance[i, j] for i in range(num_codes) for j in range(num_factors))
    disentanglement = 0.0
    for i in range(num_codes):
        row = [importance[i, j] / sum(importance[i]) for j in range(num_factors)]
        entropy = -sum(p * np.log(p) / np.log(num_factors) for p in row if p > 0)
        disentanglement += (sum(importance[i]) / total) * (1 - entropy)
    completeness = []
    for j in range(num_factors):
        col = [importance[i, j] / sum(importance[:, j]) for i in range(num_codes)]
        completeness.append(1 - -sum(p * np.log(p) / np.log(num_codes) for p in col if p > 0))
    return disentanglement, float(np.mean(completeness))


def independent_modularity(codes: np.ndarray, factors: np.ndarray) -> float:
    """Ridgeway & Mozer 2018, Section 3: 1 - sum_f (m_if - t_if)^2 / (theta_i^2 (F - 1)), mean over codes."""
    mi = independent_mutual_information(codes, factors)
    scores = []
    for m in mi:
        template = np.zeros_like(m)
        template[np.argmax(m)] = m.max()
        scores.append(1 - np.sum((m - template) ** 2) / (m.max() ** 2 * (len(m) - 1)))
    return float(np.mean(scores))


def independent_gaussian_scores(codes: np.ndarray) -> tuple[float, float]:
    """KL(N(0, S) || N(0, D)) = 0.5 (tr(D^-1 S) - k + log(det D / det S)) and the squared 2-Wasserstein distance
    tr S + tr D - 2 tr (D^1/2 S D^1/2)^1/2 (square root by eigendecomposition), D = diag(S)."""
    s = np.cov(codes)
    d = np.diag(np.diag(s))
    kl = 0.5 * (np.trace(np.linalg.inv(d) @ s) - len(s) + np.log(np.linalg.det(d) / np.linalg.det(s)))
    eigenvalues = np.linalg.eigvalsh(np.sqrt(d) @ s @ np.sqrt(d))
    return float(kl), float(np.trace(s) + np.trace(d) - 2 * np.sum(np.sqrt(eigenvalues)))


def fixture_comparison() -> list[tuple[str, float, float]]:
    """(metric, ours, independent) for the fixed data set and the hand-written importance matrix."""
    codes, factors = fixture_data()
    ours_dci = dci_scores(HAND_IMPORTANCE)
    hand_d, hand_c = independent_dci(HAND_IMPORTANCE)
    ours_u = unsupervised(codes)
    tc, wc = independent_gaussian_scores(codes)
    return [
        ("MIG", mig(codes, factors)["mig"], independent_mig(codes, factors)),
        ("SAP (continuous)", sap(codes, factors)["sap"], independent_sap(codes, factors)),
        ("DCI disentanglement (hand-written R)", ours_dci["dci_disentanglement"], hand_d),
        ("DCI completeness (hand-written R)", ours_dci["dci_completeness"], hand_c),
        ("Modularity", modularity(codes, factors)["modularity"], independent_modularity(codes, factors)),
        ("Gaussian total correlation", ours_u["gaussian_total_correlation"], tc),
        ("Gaussian Wasserstein correlation", ours_u["gaussian_wasserstein_correlation"], wc),
    ]


@pytest.fixture(scope="module")
def comparison():
    return fixture_comparison()


@pytest.mark.parametrize("row", range(7))
def test_fixture_agrees_with_the_published_formulas(comparison, row):
    name, ours, independent = comparison[row]
    assert abs(ours - independent) < 1e-9, (name, ours, independent)
