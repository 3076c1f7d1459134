"""Scores computed by intervening on the generator: the BetaVAE score (Higgins et al. 2017, "beta-VAE: Learning
Basic Visual Concepts with a Constrained Variational Framework", ICLR, https://openreview.net/forum?id=Sy2fzU9gl)
and the FactorVAE score (Kim & Mnih 2018, "Disentangling by Factorising", ICML, https://arxiv.org/abs/1802.05983);
computed as disentanglement_lib's `beta_vae.py` and `factor_vae.py`.

Unlike MIG or DCI, which score a fixed set of (codes, factors), both scores need a `Generator` that can be asked
for observations with chosen factor values, and an `encode` callable (the encoder mean), observations (n, L) ->
codes (n, D). "Holding factor k fixed" means giving every observation of a batch the same value of factor k while
the others are drawn afresh. Our factors are continuous and independent (uniform over stated ranges), so the fixed
value is that of one freshly sampled point: the continuous analogue of disentanglement_lib fixing one discrete value.
`SampleGenerator` makes held-out samples with known factors such a generator: an observation with factor k held
at a value is one of the `pool` samples whose factor k lies nearest it (the other factors, independent of k, come
as those samples have them), so the pipeline's own beats and windows are scored without re-simulating them.

BetaVAE score: a training point picks k uniformly, draws `batch_size` pairs of factor vectors where each pair
shares its value of k, and its feature is the mean over pairs of |z1 - z2| per code (D,). A logistic regression
(scikit-learn defaults, as disentanglement_lib) predicts k from the feature; the score is its accuracy on the
training points and on a fresh evaluation set.

FactorVAE score: codes are divided by their global standard deviation (from `num_variance_estimate` random
points); codes whose standard deviation is below `prune_threshold` are dropped (collapsed to the prior). A vote
picks k, fixes it over a batch and records (k, the code of least normalised variance). The classifier maps each
code to the factor that voted for it most often; the score is the share of votes it gets right, on the training
votes and on fresh evaluation votes.

Chance level of both scores is 1 / num_factors: an encoder blind to the factors gives features (or argmin codes)
independent of k, and k is uniform. Training accuracies overfit a little above chance; read the eval ones.

Departures from disentanglement_lib: draws are made in chunks of `encode_batch_size` observations so that a
torch encoder runs in large batches (results are deterministic for a given seed and chunk size, not
draw-for-draw those of disentanglement_lib); `num_active_dims` is the number of kept codes (disentanglement_lib
reports len() of the boolean mask, i.e. all codes); codes of exactly zero variance are always dropped (their
normalised variance is 0 / 0); votes are indexed by the original code, not its position among the kept ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

Encode = Callable[[np.ndarray], np.ndarray]


class Generator(Protocol):
    """Ground-truth data that can be sampled at chosen factor values (disentanglement_lib's GroundTruthData)."""

    factor_names: list[str]

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n independent factor vectors, (n, num_factors)."""
        ...

    def observe(self, factors: np.ndarray, rng: np.random.Generator, fixed: np.ndarray | None = None) -> np.ndarray:
        """One observation per factor vector (n, num_factors) -> (n, L). `fixed` (n,) names the factor each one's
        batch holds fixed (-1 or None: none); a simulator may ignore it, SampleGenerator needs it."""
        ...


class SampleGenerator:
    """Samples with known factors as a Generator. `sample_factors` draws samples' factor vectors; `observe` returns
    the sample of each such vector, or, where `fixed` holds factor k, a random one of the `pool` samples whose
    factor k lies nearest the vector's (pool / N of the factor's range for uniform factors)."""

    def __init__(self, x: np.ndarray, factors: np.ndarray, factor_names: list[str], pool: int = 64):
        if len(x) != len(factors) or len(x) < pool or not np.isfinite(factors).all():
            raise ValueError(f"SampleGenerator needs >= {pool} samples with finite factors, got {factors.shape}")
        self.x, self.factors, self.factor_names, self.pool = x, factors, list(factor_names), pool
        self._order = np.argsort(factors, axis=0, kind="stable")  # (N, F): samples by each factor
        self._sorted = np.take_along_axis(factors, self._order, axis=0)
        self._row = {row.tobytes(): i for i, row in enumerate(np.asarray(factors, dtype=np.float64))}

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.asarray(self.factors[rng.integers(len(self.x), size=n)], dtype=np.float64)

    def observe(self, factors: np.ndarray, rng: np.random.Generator, fixed: np.ndarray | None = None) -> np.ndarray:
        factors = np.asarray(factors, dtype=np.float64)
        fixed = np.full(len(factors), -1) if fixed is None else np.asarray(fixed)
        rows = np.empty(len(factors), dtype=np.int64)
        for i in np.flatnonzero(fixed < 0):
            row = self._row.get(factors[i].tobytes())
            if row is None:
                raise ValueError("SampleGenerator.observe: a factor vector with no factor held is not a sample's")
            rows[i] = row
        for k in np.unique(fixed[fixed >= 0]):
            held = np.flatnonzero(fixed == k)
            position = np.searchsorted(self._sorted[:, k], factors[held, k])
            first = np.clip(position - self.pool // 2, 0, len(self.x) - self.pool)
            rows[held] = self._order[first + rng.integers(self.pool, size=len(held)), k]
        return self.x[rows]


# --- sampling with one factor held fixed ---


@dataclass(frozen=True)
class InterventionConfig:
    """Sizes of the BetaVAE and FactorVAE scores; the defaults are disentanglement_lib's study values."""

    batch_size: int = 64  # observations sharing the fixed factor (pairs, for the BetaVAE score)
    num_train: int = 10_000  # training points (BetaVAE) or votes (FactorVAE)
    num_eval: int = 5_000  # evaluation points or votes
    num_variance_estimate: int = 10_000  # FactorVAE: points for each code's global variance
    prune_threshold: float = 0.05  # FactorVAE: codes with a smaller global std are left out (collapsed)
    seed: int = 0
    encode_batch_size: int = 4096  # observations per encoder call


def _check_sizes(cfg: InterventionConfig, min_batch: int) -> None:
    if cfg.batch_size < min_batch:
        raise ValueError(f"batch_size must be at least {min_batch}, got {cfg.batch_size}")
    if cfg.num_train < 1 or cfg.num_eval < 1:
        raise ValueError(f"num_train and num_eval must be positive, got {cfg.num_train} and {cfg.num_eval}")


def _sample_factors(generator: Generator, n: int, rng: np.random.Generator) -> np.ndarray:
    factors = np.asarray(generator.sample_factors(n, rng), dtype=np.float64)
    expected = (n, len(generator.factor_names))
    if factors.shape != expected:
        raise ValueError(f"generator.sample_factors returned shape {factors.shape}, expected {expected}")
    return factors


def _encode_factors(
    generator: Generator, encode: Encode, factors: np.ndarray, rng: np.random.Generator, fixed: np.ndarray | None = None
) -> np.ndarray:
    """Codes (n, D) of one observation of each factor vector (n, F), `fixed` passed on to observe; ValueError on a
    malformed or non-finite encoder output."""
    codes = np.asarray(encode(generator.observe(factors, rng, fixed=fixed)), dtype=np.float64)
    if codes.ndim != 2 or codes.shape[0] != len(factors):
        raise ValueError(
            f"encode returned codes of shape {codes.shape} for {len(factors)} observations, "
            f"expected ({len(factors)}, num_codes)"
        )
    if not np.all(np.isfinite(codes)):
        raise ValueError("encode returned non-finite codes")
    return codes


def _chunks(num_points: int, batch_size: int, encode_batch_size: int) -> list[int]:
    """Numbers of points per encoder call, so that each call sees about `encode_batch_size` observations."""
    per_call = max(1, encode_batch_size // batch_size)
    return [min(per_call, num_points - start) for start in range(0, num_points, per_call)]


def _fixed_factor_batches(
    generator: Generator, n_points: int, batch_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Labels k (n_points,) and factors (n_points, batch_size, F) in which factor k of each batch takes the value
    of the batch's first point."""
    num_factors = len(generator.factor_names)
    labels = rng.integers(num_factors, size=n_points)
    factors = _sample_factors(generator, n_points * batch_size, rng).reshape(n_points, batch_size, num_factors)
    rows = np.arange(n_points)
    factors[rows, :, labels] = factors[rows, 0, labels][:, None]
    return labels, factors


# --- BetaVAE score ---


def beta_vae_features(codes1: np.ndarray, codes2: np.ndarray) -> np.ndarray:
    """Mean absolute code difference over each batch of pairs: codes (P, B, D) twice -> features (P, D)."""
    return np.mean(np.abs(codes1 - codes2), axis=1)


def _beta_vae_points(
    generator: Generator, encode: Encode, cfg: InterventionConfig, num_points: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Features (num_points, D) and labels (num_points,): pairs share factor k, as disentanglement_lib's
    `_generate_training_sample`."""
    features, labels = [], []
    num_factors, batch_size = len(generator.factor_names), cfg.batch_size
    for n in _chunks(num_points, batch_size, cfg.encode_batch_size):
        k = rng.integers(num_factors, size=n)
        factors1 = _sample_factors(generator, n * batch_size, rng).reshape(n, batch_size, num_factors)
        factors2 = _sample_factors(generator, n * batch_size, rng).reshape(n, batch_size, num_factors)
        factors2[np.arange(n), :, k] = factors1[np.arange(n), :, k]  # each pair shares its own value of k
        codes1 = _encode_factors(generator, encode, factors1.reshape(n * batch_size, -1), rng)
        shared = np.repeat(k, batch_size)  # the second of each pair is observed with k held at the first's value
        codes2 = _encode_factors(generator, encode, factors2.reshape(n * batch_size, -1), rng, shared)
        features.append(beta_vae_features(codes1.reshape(n, batch_size, -1), codes2.reshape(n, batch_size, -1)))
        labels.append(k)
    return np.concatenate(features), np.concatenate(labels)


def beta_vae_score(generator: Generator, encode: Encode, **options) -> dict:
    """BetaVAE score of `encode` on `generator`; `options` are InterventionConfig's fields (its defaults are
    disentanglement_lib's study values, config/unsupervised_study_v1/metric_configs/beta_vae_sklearn.gin).

    Returns {"beta_vae_train", "beta_vae_eval"}: logistic-regression accuracies at predicting the fixed factor,
    chance 1 / num_factors. Raises ValueError on bad sizes or when `encode` returns codes of the wrong shape.
    """
    from sklearn.linear_model import LogisticRegression

    cfg = InterventionConfig(**options)
    _check_sizes(cfg, min_batch=1)
    rng = np.random.default_rng(cfg.seed)
    train_x, train_y = _beta_vae_points(generator, encode, cfg, cfg.num_train, rng)
    model = LogisticRegression(random_state=cfg.seed).fit(train_x, train_y)
    eval_x, eval_y = _beta_vae_points(generator, encode, cfg, cfg.num_eval, rng)
    scores = {
        "beta_vae_train": float(model.score(train_x, train_y)),
        "beta_vae_eval": float(model.score(eval_x, eval_y)),
    }
    log.info("BetaVAE score  train %.3f  eval %.3f  (chance %.3f)", *scores.values(), 1 / len(generator.factor_names))
    return scores


# --- FactorVAE score ---


def prune_dims(variances: np.ndarray, threshold: float = 0.05) -> np.ndarray:
    """Mask (D,) of codes whose standard deviation reaches `threshold` (disentanglement_lib's `prune_dims`;
    0.05 is its study value) and whose variance is not exactly zero."""
    variances = np.asarray(variances, dtype=np.float64)
    return (np.sqrt(variances) >= threshold) & (variances > 0)


def majority_vote_accuracy(train_votes: np.ndarray, eval_votes: np.ndarray) -> tuple[float, float]:
    """Train and eval accuracy of the classifier that maps each code to the factor with most training votes.

    Votes are (num_factors, num_codes) counts of (fixed factor, argmin code); ties go to the lower factor index,
    as np.argmax. Raises ValueError when either vote matrix is empty.
    """
    if train_votes.sum() == 0 or eval_votes.sum() == 0:
        raise ValueError("majority_vote_accuracy needs at least one training and one evaluation vote")
    classifier = np.argmax(train_votes, axis=0)  # (num_codes,) factor assigned to each code
    codes = np.arange(train_votes.shape[1])
    train = train_votes[classifier, codes].sum() / train_votes.sum()
    evaluation = eval_votes[classifier, codes].sum() / eval_votes.sum()
    return float(train), float(evaluation)


def _global_variances(
    generator: Generator, encode: Encode, num_points: int, rng: np.random.Generator, encode_batch_size: int
) -> np.ndarray:
    """Variance (ddof=1) of each code over `num_points` observations of random factors, (D,)."""
    codes = [
        _encode_factors(generator, encode, _sample_factors(generator, n, rng), rng)
        for n in _chunks(num_points, 1, encode_batch_size)
    ]
    return np.var(np.concatenate(codes), axis=0, ddof=1)


def _factor_vae_votes(
    generator: Generator, encode: Encode, cfg: InterventionConfig, num_points: int, rng: np.random.Generator,
    global_variances: np.ndarray, active: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Vote counts (num_factors, D): factor k fixed over a batch, argmin over active codes of the normalised
    variance, as disentanglement_lib's `_generate_training_sample`."""
    votes = np.zeros((len(generator.factor_names), len(global_variances)), dtype=np.int64)
    active_index = np.flatnonzero(active)
    batch_size = cfg.batch_size
    for n in _chunks(num_points, batch_size, cfg.encode_batch_size):
        k, factors = _fixed_factor_batches(generator, n, batch_size, rng)
        codes = _encode_factors(generator, encode, factors.reshape(n * batch_size, -1), rng, np.repeat(k, batch_size))
        if codes.shape[1] != len(global_variances):
            raise ValueError(f"encode returned {codes.shape[1]} codes, {len(global_variances)} earlier")
        local = np.var(codes.reshape(n, batch_size, -1)[:, :, active], axis=1, ddof=1)  # (n, num_active)
        argmin = active_index[np.argmin(local / global_variances[active], axis=1)]
        np.add.at(votes, (k, argmin), 1)
    return votes


def factor_vae_score(generator: Generator, encode: Encode, **options) -> dict:
    """FactorVAE score of `encode` on `generator`; `options` are InterventionConfig's fields (its defaults are
    disentanglement_lib's study values, config/unsupervised_study_v1/metric_configs/factor_vae_metric.gin).

    Returns {"factor_vae_train", "factor_vae_eval", "num_active_dims"}; chance 1 / num_factors. When every code
    is pruned (a collapsed encoder) both accuracies are 0, as disentanglement_lib. Raises ValueError on bad sizes
    (batch_size < 2 has no variance) or when `encode` returns codes of the wrong shape.
    """
    cfg = InterventionConfig(**options)
    _check_sizes(cfg, min_batch=2)
    if cfg.num_variance_estimate < 2:
        raise ValueError(f"num_variance_estimate must be at least 2, got {cfg.num_variance_estimate}")
    rng = np.random.default_rng(cfg.seed)
    global_variances = _global_variances(generator, encode, cfg.num_variance_estimate, rng, cfg.encode_batch_size)
    active = prune_dims(global_variances, cfg.prune_threshold)
    if not active.any():
        log.warning("FactorVAE score: all %d codes have std below %g; scoring 0", len(active), cfg.prune_threshold)
        return {"factor_vae_train": 0.0, "factor_vae_eval": 0.0, "num_active_dims": 0}
    train_votes = _factor_vae_votes(generator, encode, cfg, cfg.num_train, rng, global_variances, active)
    eval_votes = _factor_vae_votes(generator, encode, cfg, cfg.num_eval, rng, global_variances, active)
    train, evaluation = majority_vote_accuracy(train_votes, eval_votes)
    log.info(
        "FactorVAE score  train %.3f  eval %.3f  (chance %.3f, %d active codes)",
        train,
        evaluation,
        1 / len(generator.factor_names),
        active.sum(),
    )
    return {"factor_vae_train": train, "factor_vae_eval": evaluation, "num_active_dims": int(active.sum())}
