"""Linear baselines a disentangling model must beat: PCA and FastICA with as many components as the model has
latents, fitted on the training split and scored on the same test points with the same metrics as the models
(Locatello et al. 2019 compare against such baselines; FastICA is the classic linear unmixing)."""

from __future__ import annotations

import warnings

import numpy as np

from pipelines.dataset import TrainingSet
from pipelines.evaluation.config import EvalConfig
from pipelines.evaluation.scores import ORACLE
from pipelines.evaluation.summary import code_probes, score_codes, scored_points

FIT_POINTS = 20_000  # training samples the baselines are fitted on (all of the embedded sets)


def fit_baselines(x_train: np.ndarray, components: int = 10, seed: int = 0) -> dict:
    """{"PCA-<k>": fitted PCA, "FastICA-<k>": fitted FastICA} on up to FIT_POINTS training samples (N, L)."""
    from sklearn.decomposition import PCA, FastICA
    from sklearn.exceptions import ConvergenceWarning

    fit = x_train[:FIT_POINTS].astype(np.float64)
    models = {
        f"PCA-{components}": PCA(components, random_state=seed),
        f"FastICA-{components}": FastICA(components, random_state=seed, max_iter=1000, whiten="unit-variance"),
    }
    with warnings.catch_warnings():  # FastICA on data with fewer independent sources than components
        warnings.simplefilter("ignore", ConvergenceWarning)
        return {name: model.fit(fit) for name, model in models.items()}


def linear_baselines(data: TrainingSet, cfg: EvalConfig, components: int = 10) -> dict[str, dict]:
    """{"PCA-<k>": scores, "FastICA-<k>": scores} of the `components`-dimensional codes of each, fitted on the
    training split (score_codes on the test split's scored points, and the probes), and for annotated real data
    (factor_kind "expert") ORACLE: the factors themselves as codes, the best any encoder could score where the
    factors correlate with one another (MIG's second-best code is then another factor). {} when the test split
    has fewer than 20 points with known factors."""
    train, test = data.part("train"), data.part("test")
    points = scored_points(test, cfg)
    if len(points) < 20 or len(train) <= components:
        return {}
    x, factors, names = test.x[points].astype(np.float64), test.factors[points].T, data.factor_names
    out = {}
    for name, model in fit_baselines(train.x, components, cfg.seed).items():
        out[name] = score_codes(model.transform(x).T, factors, cfg, names)
        out[name] |= code_probes(model.transform(train.x.astype(np.float64)), model.transform(test.x), data)
    if data.factor_kind == "expert":
        out[ORACLE] = score_codes(factors, factors, cfg, names)
    return out
