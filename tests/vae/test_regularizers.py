"""Each regularizer against its formula written out here independently (numpy, float64, one model and one sample
at a time), on random posteriors of a stack of models; and the config rules that keep a model's settings explicit.

Adding a model to REGULARIZERS without a formula here fails `test_every_regularizer_has_a_reference_formula`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import norm

from pipelines.errors import ConfigError
from pipelines.vae.losses import GridLoss
from pipelines.vae.regularizers import REGULARIZERS, LossConfig, Posterior, anneal_progress


def kl_sum(mu: np.ndarray, logvar: np.ndarray) -> float:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) of one sample, in nats (the Gaussian KL in closed form)."""
    var = np.exp(logvar)
    return float(0.5 * np.sum(var + mu**2 - 1.0 - np.log(var)))


def batch_kl(mu: np.ndarray, logvar: np.ndarray) -> float:
    return float(np.mean([kl_sum(m, lv) for m, lv in zip(mu, logvar, strict=True)]))


def total_correlation(mu: np.ndarray, logvar: np.ndarray, z: np.ndarray) -> float:
    """Chen et al.'s minibatch estimate without constants, one sample at a time: mean_j [log sum_i prod_l
    q(z_jl|x_i) - sum_l log sum_i q(z_jl|x_i)]."""
    sd = np.exp(0.5 * logvar)
    terms = []
    for zj in z:
        log_q = norm.logpdf(zj[None, :], loc=mu, scale=sd)  # (i, l)
        terms.append(logsumexp(log_q.sum(axis=1)) - logsumexp(log_q, axis=0).sum())
    return float(np.mean(terms))


def dip_ii(mu: np.ndarray, logvar: np.ndarray, lambda_od: float, lambda_d: float) -> float:
    """Kumar et al.'s DIP-VAE-II penalty on Cov_q(z) = E[diag(var)] + Cov(mu) (np.cov, biased)."""
    cov = np.cov(mu, rowvar=False, bias=True) + np.diag(np.exp(logvar).mean(axis=0))
    off = cov - np.diag(np.diag(cov))
    return lambda_od * float((off**2).sum()) + lambda_d * float(((np.diag(cov) - 1) ** 2).sum())


REFERENCE = {  # kind -> (settings, formula(mu (B, D), logvar (B, D), z (B, D), progress, settings))
    "beta": ({"beta": 4.0}, lambda mu, lv, z, t, s: s["beta"] * batch_kl(mu, lv)),
    "capacity": (
        {"capacity_nats": 25.0, "gamma": 1000.0},
        lambda mu, lv, z, t, s: s["gamma"] * abs(batch_kl(mu, lv) - s["capacity_nats"] * t),
    ),
    "tcvae": ({"beta": 6.0}, lambda mu, lv, z, t, s: batch_kl(mu, lv) + (s["beta"] - 1) * total_correlation(mu, lv, z)),
    "dipvae": (
        {"lambda_od": 10.0, "lambda_d": 5.0},
        lambda mu, lv, z, t, s: batch_kl(mu, lv) + dip_ii(mu, lv, s["lambda_od"], s["lambda_d"]),
    ),
}


def random_posterior(models: int, batch: int = 32, latents: int = 10, progress: float = 0.37) -> Posterior:
    g = torch.Generator().manual_seed(models)
    mu = torch.randn(models, batch, latents, generator=g, dtype=torch.float64) * 2.0
    logvar = torch.randn(models, batch, latents, generator=g, dtype=torch.float64)
    z = mu + torch.randn(mu.shape, generator=g, dtype=torch.float64) * torch.exp(0.5 * logvar)
    return Posterior(mu, logvar, z, progress)


def test_every_regularizer_has_a_reference_formula():
    assert set(REFERENCE) == set(REGULARIZERS)


@pytest.mark.parametrize("kind", sorted(REGULARIZERS))
def test_regularizer_matches_its_formula_for_each_model_of_a_stack(kind):
    settings, formula = REFERENCE[kind]
    post = random_posterior(models=3)
    # each model its own settings: the first as given, the others scaled, to catch a mix-up between models
    per_model = {k: torch.tensor([v, 0.5 * v, 2.0 * v], dtype=torch.float64) for k, v in settings.items()}
    got = REGULARIZERS[kind](post, per_model).numpy()
    for g in range(3):
        mine = {k: float(v[g]) for k, v in per_model.items()}
        want = formula(*(t[g].numpy() for t in (post.mu, post.logvar, post.z)), post.progress, mine)
        assert got[g] == pytest.approx(want, rel=1e-9)


def test_a_grid_of_mixed_kinds_gives_each_model_its_own_regularizer():
    cfgs = [LossConfig("c25", "capacity", capacity_nats=25.0), LossConfig("b4", "beta", beta=4.0),
            LossConfig("c5", "capacity", capacity_nats=5.0, gamma=100.0)]  # fmt: skip
    post = random_posterior(models=3, progress=0.5)
    x = torch.zeros(32, 7, dtype=torch.float64)
    out = torch.full((3, 32, 7), 0.1, dtype=torch.float64)
    loss, recon = GridLoss(cfgs, "gaussian", sigma=0.1, device="cpu")(x, out, post)
    assert recon.tolist() == pytest.approx([3.5] * 3)  # 0.5 * 7 features * (0.1 / 0.1)^2
    kl = [batch_kl(post.mu[g].numpy(), post.logvar[g].numpy()) for g in range(3)]
    want = [1000.0 * abs(kl[0] - 12.5), 4.0 * kl[1], 100.0 * abs(kl[2] - 2.5)]
    assert (loss - recon).tolist() == pytest.approx(want, rel=1e-9)


def test_total_correlation_of_dependent_latents_matches_its_closed_form():
    """The estimator behind tcvae on 3 latents z_l = u + e_l (u ~ N(0, 9), posterior noise e_l ~ N(0, 1)), whose
    correlation 0.9 gives TC = -0.5 log((1 - 0.9)^2 (1 + 2 * 0.9)) = 1.79 nats, against independent latents (TC 0).
    The estimate lacks a constant, (D - 1) log(B N), so only the difference is compared; on a batch of 256 it lands
    within about half a nat."""

    def tc(mu: torch.Tensor) -> float:
        post = Posterior(mu, torch.zeros_like(mu), mu, 1.0)
        with_tc = REGULARIZERS["tcvae"](post, {"beta": torch.tensor([2.0], dtype=torch.float64)})  # KL + 1 * TC
        return float(with_tc - post.kl.sum(dim=-1).mean(dim=-1))

    independent = 3.0 * torch.randn(1, 256, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    copies = independent[..., :1].expand(-1, -1, 3)
    assert tc(copies) - tc(independent) == pytest.approx(1.79, abs=0.6)


def test_annealing_rises_linearly_then_holds():
    assert [anneal_progress(s, 100) for s in (0, 50, 100, 200)] == [0.0, 0.5, 1.0, 1.0]
    assert anneal_progress(0, 0) == 1.0
    assert anneal_progress(torch.tensor(150.0), 100).item() == 1.0  # the trainer's step count lives on the device


def test_a_setting_the_kind_does_not_read_is_an_error_not_ignored():
    with pytest.raises(ConfigError, match=r"kind beta reads \['beta'\], not \['capacity_nats'\]"):
        LossConfig("b4_c25", "beta", beta=4.0, capacity_nats=25.0)
    with pytest.raises(ConfigError, match="kind must be one of"):
        LossConfig("x", "factorvae")
    with pytest.raises(ConfigError, match="must be >= 0"):
        LossConfig("x", "capacity", gamma=-1.0)


@pytest.mark.parametrize("name", ["a,b", "a|b", "a[1]", "a...b", "../b4", "b4/c0", "b4'", ".hidden", ""])
def test_config_names_that_break_partition_keys_paths_or_filters_are_rejected(name):
    with pytest.raises(ConfigError, match="partition key, a directory name and an MLflow tag"):
        LossConfig(name, "beta")


def test_ordinary_config_names_are_accepted():
    for name in ("b4_c0", "g1000_c25", "b0.5_c1.5", "run-2"):
        assert LossConfig(name, "beta").name == name


def test_total_correlation_stays_finite_when_a_latent_is_extremely_precise():
    """float32, one latent with log-variance -100 (std e^-50: a sample equals its mean to float precision): the
    density's old form (x - mean)^2 * exp(-logvar) made each sample's own term 0 * inf = NaN, and β-TCVAE's loss
    NaN; in units of the std it is finite, and equals the float64 value where both are finite."""
    from pipelines.vae.regularizers import gaussian_log_density

    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(1, 64, 3, generator=g), torch.zeros(1, 64, 3)
    logvar[..., 0] = -100.0
    z = mu + torch.randn(1, 64, 3, generator=g) * (0.5 * logvar).exp()
    old = -0.5 * ((z - mu).square() * (-logvar).exp() + logvar + math.log(2 * math.pi))
    assert old[..., 0].isnan().all()
    assert torch.isfinite(gaussian_log_density(z, mu, logvar)).all()
    loss = REGULARIZERS["tcvae"](Posterior(mu, logvar, z, torch.tensor(1.0)), {"beta": torch.tensor([12.0])})
    assert torch.isfinite(loss).all()
    lv = torch.randn(1, 64, 3, generator=g).double()
    z64 = mu.double() + torch.randn(1, 64, 3, generator=g).double() * (0.5 * lv).exp()
    torch.testing.assert_close(gaussian_log_density(z64.float(), mu, lv.float()).double(),
                               gaussian_log_density(z64, mu.double(), lv), rtol=1e-5, atol=1e-5)  # fmt: skip
