"""The metrics table of one trained model: reconstruction error in data units and KL per latent on the test split;
the supervised disentanglement metrics (MIG, SAP, DCI, modularity and explicitness) against the data set's factors
(generative factors for synthetic data, proxies for real) and the unsupervised ones (Gaussian total correlation,
active units) on the posterior means."""

from __future__ import annotations

import numpy as np
import torch

from pipelines.dataset import TrainingSet
from pipelines.evaluation.config import EvalConfig
from pipelines.evaluation.dci import dci
from pipelines.evaluation.intervention import SampleGenerator, beta_vae_score, factor_vae_score
from pipelines.evaluation.mig import mig
from pipelines.evaluation.modularity import modularity
from pipelines.evaluation.probes import diagnosis_aurocs, healthy_vs_mi_auroc, next_volatility_r2, next_window_targets
from pipelines.evaluation.sap import sap
from pipelines.evaluation.unsupervised import active_units, unsupervised
from pipelines.vae.model import BetaVAE
from pipelines.vae.regularizers import kl_per_latent

RATE_FACTORS = ("rr_s", "hr_bpm")  # heart rate, read straight off a beat's RR channel
INTERVENTION_POOL = 64  # samples an intervention picks from: a batch's size, as disentanglement_lib's


@torch.no_grad()
def encode(model: BetaVAE, x: np.ndarray, batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances (N, D) of samples `x` (N, L)."""
    mus, logvars = [], []
    for start in range(0, len(x), batch):
        mu, logvar = model.encode(torch.as_tensor(x[start : start + batch], dtype=torch.float32))
        mus.append(mu.numpy())
        logvars.append(logvar.numpy())
    return np.concatenate(mus), np.concatenate(logvars)


@torch.no_grad()
def reconstruct(model: BetaVAE, x: np.ndarray) -> np.ndarray:
    return model(torch.as_tensor(x, dtype=torch.float32)).numpy()


def mean_kl_per_latent(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """KL(q(z|x) || N(0, I)) per latent (D,) in nats, averaged over samples (the training loss's formula)."""
    return kl_per_latent(torch.as_tensor(mu), torch.as_tensor(logvar)).mean(dim=0).numpy()


def summarize_model(model: BetaVAE, data: TrainingSet, cfg: EvalConfig) -> dict:
    """Metrics of `model`, ready to log (plain floats and lists).

    Everything is measured on the held-out test split (all of `data` if it has none): reconstruction and KL,
    and the disentanglement scores on up to `mig_points` of its samples (`score_codes`).
    """
    test = data.part("test") if (data.split == "test").any() else data
    mu, logvar = encode(model, test.x)
    kl = mean_kl_per_latent(mu, logvar)
    err = reconstruct(model, test.x) - test.x
    rmse = float(np.sqrt(np.mean(err**2)))  # in data units (mV for beats)
    out = {
        "n_test": len(test),
        "recon_rmse": rmse,
        **({"recon_rmse_uv": rmse * 1000.0} if data.value_label == "mV" else {}),
        "recon_sse_per_sample": float(np.mean(np.sum(err**2, axis=1))),
        "kl_total": float(kl.sum()),
        "kl_per_latent": [float(v) for v in kl],
        "active_units": active_units(kl, cfg.active_kl_nats),
        "factor_names": list(data.factor_names),
        "factor_kind": data.factor_kind,
    }
    usable = scored_points(test, cfg)
    if len(usable) >= 20:
        out |= score_codes(mu[usable].T, test.factors[usable].T, cfg, data.factor_names)  # the test codes
    if data.factor_kind == "generative" and len(usable) >= 4 * INTERVENTION_POOL:
        out |= intervention_scores(model, test.x[usable], test.factors[usable], data.factor_names, cfg)
    out |= unsupervised(mu.T, cfg.num_bins)
    return out


def intervention_scores(model: BetaVAE, x: np.ndarray, factors: np.ndarray, names: list[str], cfg: EvalConfig) -> dict:
    """The BetaVAE and FactorVAE scores (pipelines.evaluation.intervention) with the held-out samples `x` and their
    known `factors` as the generator: holding a factor fixed picks samples among the INTERVENTION_POOL nearest."""
    generator = SampleGenerator(x, factors, names, pool=INTERVENTION_POOL)
    sizes = {"num_train": cfg.intervention_points, "num_eval": cfg.intervention_points // 2, "seed": cfg.seed}
    codes = lambda batch: encode(model, batch)[0]  # noqa: E731
    scores = beta_vae_score(generator, codes, **sizes) | factor_vae_score(generator, codes, **sizes)
    return {k: scores[k] for k in ("beta_vae_eval", "factor_vae_eval")}


def scored_points(data: TrainingSet, cfg: EvalConfig) -> np.ndarray:
    """Indices of the samples of `data` the disentanglement scores use: those with every factor known, a random
    `mig_points` of them when there are more (drawn with cfg.seed)."""
    usable = np.flatnonzero(np.isfinite(data.factors).all(axis=1))
    if len(usable) > cfg.mig_points:
        usable = np.sort(np.random.default_rng(cfg.seed).choice(usable, cfg.mig_points, replace=False))
    return usable


def score_codes(codes: np.ndarray, factors: np.ndarray, cfg: EvalConfig, names: list[str] | None = None) -> dict:
    """MIG, SAP, DCI and modularity of codes (D, N) against factors (F, N); DCI and modularity fit on the first
    `dci_points` (the points are a random sample already). With the factors' `names`, also each factor's MIG gap
    (`mig__<name>`) and the MIG over the factors other than heart rate (`mig_non_rr`: RATE_FACTORS, which a
    beat's RR channel hands over as an input)."""
    continuous = [len(np.unique(f)) > cfg.num_bins for f in factors]
    few = slice(0, min(cfg.dci_points, codes.shape[1]))
    out = {"mig_points": codes.shape[1], **mig(codes, factors, cfg.num_bins)}
    if names is not None:
        gaps = dict(zip(names, out["mig_per_factor"], strict=True))
        out |= {f"mig__{name}": gap for name, gap in gaps.items()}
        others = [gap for name, gap in gaps.items() if name not in RATE_FACTORS and np.isfinite(gap)]
        out["mig_non_rr"] = float(np.mean(others)) if others else float("nan")
    out |= {k: v for k, v in sap(codes, factors, continuous, seed=cfg.seed).items() if k != "sap_matrix"}
    dci_scores = dci(codes[:, few], factors[:, few], seed=cfg.seed, n_estimators=cfg.dci_trees, num_bins=cfg.num_bins)
    out |= {k: v for k, v in dci_scores.items() if k != "importance_matrix"}
    return out | modularity(codes[:, few], factors[:, few], seed=cfg.seed, num_bins=cfg.num_bins)


def probe_scores(model: BetaVAE, data: TrainingSet) -> dict:
    """Linear probes from the model's latents (pipelines.evaluation.probes), fitted on the train split and scored
    on the test split."""
    train, test = data.part("train"), data.part("test")
    if not len(train) or not len(test):
        return {}
    return code_probes(encode(model, train.x)[0], encode(model, test.x)[0], data)


def code_probes(mu_train: np.ndarray, mu_test: np.ndarray, data: TrainingSet) -> dict:
    """Linear probes from codes of the train and test splits of `data` (a model's latents or a baseline's
    components): LUDB's diagnoses (ROC AUC and its standard error), healthy vs MI (ROC AUC) for heartbeats,
    next-window log volatility (R², beside the persistence baseline) for windows."""
    train, test = data.part("train"), data.part("test")
    if "ischemia" in data.labels:
        return diagnosis_aurocs(mu_train, train.labels, mu_test, test.labels)
    if "healthy" in data.labels:
        return {"probe_mi_auroc": healthy_vs_mi_auroc(mu_train, train.labels.healthy, mu_test, test.labels.healthy)}
    if "realised_vol" in data.labels:
        target = next_window_targets(data.labels, window_min=data.x.shape[1])
        t_train, t_test = target[data.split == "train"], target[data.split == "test"]
        own_vol = np.log(data.labels["realised_vol"].to_numpy(float))[:, None]
        return {
            "probe_next_vol_r2": next_volatility_r2(mu_train, t_train, mu_test, t_test),
            "probe_next_vol_r2_persistence": next_volatility_r2(
                own_vol[data.split == "train"], t_train, own_vol[data.split == "test"], t_test
            ),
        }
    return {}


@torch.no_grad()
def sample_prior(model: BetaVAE, count: int, seed: int = 0) -> np.ndarray:
    """`count` samples (count, L) in data units decoded from z ~ N(0, I)."""
    z = torch.randn(count, model.cfg.latent_dim, generator=torch.Generator().manual_seed(seed))
    return model.decode(z).numpy()
