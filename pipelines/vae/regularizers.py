"""The models of the sweep, each a regularizer on the VAE's posterior: loss = recon + regularizer.

A model is its `kind` (a key of REGULARIZERS) and the settings it reads (`LossConfig` fields). Adding one is a
function here, an entry in REGULARIZERS and a test of it against its formula (tests/vae/test_regularizers.py).

- `beta` (Higgins et al. 2017, "beta-VAE", ICLR): beta * KL; beta = 1 is the plain VAE.
- `capacity`, the AnnealedVAE (Burgess et al. 2018, "Understanding disentangling in beta-VAE", arXiv 1804.03599):
  gamma * |KL - C(t)|, with C(t) raised linearly from 0 to C over the annealing steps (`annealed`; gamma = 1000
  and C = 25 nats on dSprites).
- `tcvae`, beta-TCVAE (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs", NeurIPS, eq. 4 with
  alpha = gamma = 1): KL + (beta - 1) * TC, the total correlation of q(z) estimated on the batch by minibatch
  weighted sampling without its constant, as disentanglement_lib's `total_correlation`.
- `dipvae`, DIP-VAE-II (Kumar et al. 2018, "Variational Inference of Disentangled Latent Concepts from Unlabeled
  Observations", ICLR, eq. 7): KL + lambda_od * sum of squared off-diagonal entries of Cov_q(z) + lambda_d * sum of
  (diagonal - 1)^2, where Cov_q(z) = E[diag(exp(logvar))] + Cov(mu) over the batch.

KL is KL(q(z|x) || N(0, I)) summed over latents and averaged over the batch, in nats, as in the papers.

A regularizer takes a `Posterior` of G models at once (the grid trains them stacked) and the settings of each as
(G,) tensors, and returns the (G,) penalties. It only calls tensor methods, so this module (which the CLI and the
Dagster definitions read for the sweep) does not import torch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import cached_property
from typing import TYPE_CHECKING

from pipelines.errors import ConfigError

if TYPE_CHECKING:
    from torch import Tensor

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class LossConfig:
    """One point of the sweep: a model (`kind`) and its settings. Settings the kind does not read must be left at
    their defaults (a `capacity_nats` on a `beta` model is an error, not silently ignored)."""

    name: str  # partition key, e.g. "b4" or "c25"
    kind: str  # the model: a key of REGULARIZERS
    beta: float = 1.0  # beta: the KL weight; tcvae: the weight of the total correlation
    capacity_nats: float = 0.0  # capacity: the target C (Burgess et al. 2018: 25 nats on dSprites)
    gamma: float = 1000.0  # capacity: the weight of |KL - C(t)| (Burgess et al. 2018)
    lambda_od: float = 10.0  # dipvae: the weight of Cov_q(z)'s off-diagonal entries
    lambda_d: float = 10.0  # dipvae: the weight of its diagonal's distance from 1 (Kumar et al.: lambda_d = lambda_od)

    def __post_init__(self):
        if not _NAME.fullmatch(self.name) or "..." in self.name:
            raise ConfigError(
                f"sweep config {self.name!r}: a name is letters, digits, _ . - (it is a Dagster partition key, a "
                "directory name and an MLflow tag)"
            )
        if self.kind not in REGULARIZERS:
            raise ConfigError(
                f"sweep config {self.name}: kind must be one of {sorted(REGULARIZERS)}, got {self.kind!r}"
            )
        defaults = {f.name: f.default for f in fields(self)}
        stray = [k for k in SETTINGS if k not in self.settings and getattr(self, k) != defaults[k]]
        if stray:
            raise ConfigError(
                f"sweep config {self.name}: kind {self.kind} reads {list(self.settings)}, not {stray}; remove them"
            )
        negative = [k for k in self.settings if getattr(self, k) < 0]
        if negative:
            raise ConfigError(f"sweep config {self.name}: {negative} must be >= 0")

    @property
    def settings(self) -> tuple[str, ...]:
        """The fields this config's regularizer reads."""
        return REGULARIZERS[self.kind].settings


@dataclass(frozen=True)
class Posterior:
    """What a regularizer sees of G models on one batch of B samples: q(z|x) = N(mu, exp(logvar)) and the sample
    z drawn from it, each (G, B, D); `progress` is the annealing schedule's t / T_anneal in [0, 1] (`annealed`)."""

    mu: Tensor
    logvar: Tensor
    z: Tensor
    progress: Tensor | float

    @cached_property
    def kl(self) -> Tensor:
        """KL(q(z|x) || N(0, I)) per model, sample and latent, (G, B, D), in nats (computed once)."""
        return kl_per_latent(self.mu, self.logvar)

    @cached_property
    def kl_total(self) -> Tensor:
        """KL summed over latents and averaged over the batch, (G,): the KL term of the papers' losses."""
        return self.kl.sum(dim=-1).mean(dim=-1)


def kl_per_latent(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) elementwise, in nats."""
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar)


def annealed(value, progress):
    """The annealing schedule every annealed setting follows (C(t) of the capacity loss): `value` scaled by
    progress = min(1, t / T_anneal), rising linearly from 0, then held."""
    return value * progress


def anneal_progress(step, anneal_steps: int):
    """min(1, step / anneal_steps) for a step count (an int, or a tensor on the device); 1 with no annealing."""
    if anneal_steps <= 0:
        return 1.0
    progress = step / anneal_steps
    return progress.clamp(max=1.0) if hasattr(progress, "clamp") else min(progress, 1.0)


def beta_kl(post: Posterior, beta: Tensor) -> Tensor:
    """beta * KL, the KL summed over latents and averaged over the batch (Higgins et al. 2017)."""
    return beta * post.kl_total


def capacity(post: Posterior, capacity_nats: Tensor, gamma: Tensor) -> Tensor:
    """gamma * |KL - C(t)|, C(t) the target annealed from 0 to `capacity_nats` (Burgess et al. 2018, eq. 8)."""
    return gamma * (post.kl_total - annealed(capacity_nats, post.progress)).abs()


def tcvae(post: Posterior, beta: Tensor) -> Tensor:
    """KL + (beta - 1) * TC (Chen et al. 2018, eq. 4 with alpha = gamma = 1; disentanglement_lib's BetaTCVAE).

    TC = E_j[log q(z_j) - sum_l log q(z_jl)], with q(z_j) ~ (1/B) sum_i q(z_j | x_i) over the batch: the constant
    log-normalisers (which do not change the gradients) are dropped, as in disentanglement_lib."""
    log_q = gaussian_log_density(post.z.unsqueeze(-2), post.mu.unsqueeze(-3), post.logvar.unsqueeze(-3))  # (G,B,B,D)
    log_qz = log_q.sum(dim=-1).logsumexp(dim=-1)  # (G, B): log sum_i prod_l q(z_jl | x_i)
    log_prod_qz = log_q.logsumexp(dim=-2).sum(dim=-1)  # (G, B): sum_l log sum_i q(z_jl | x_i)
    tc = (log_qz - log_prod_qz).mean(dim=-1)
    return post.kl_total + (beta - 1.0) * tc


def gaussian_log_density(x: Tensor, mean: Tensor, logvar: Tensor) -> Tensor:
    """log N(x; mean, exp(logvar)) elementwise. The squared distance is taken in units of the std, ((x - mean) *
    exp(-logvar / 2))^2, not (x - mean)^2 * exp(-logvar): in float32 exp(-logvar) overflows to inf once logvar <
    -88.7, and a sample's own term, whose x - mean is then 0 (its std is below mean's precision), would be
    0 * inf = NaN. A latent that precise would turn β-TCVAE's total correlation into NaN and end its run."""
    return -0.5 * (((x - mean) * (-0.5 * logvar).exp()).square() + logvar + math.log(2 * math.pi))


def dipvae(post: Posterior, lambda_od: Tensor, lambda_d: Tensor) -> Tensor:
    """KL + lambda_od * sum_{k != l} Cov_q(z)_kl^2 + lambda_d * sum_k (Cov_q(z)_kk - 1)^2 (Kumar et al. 2018, eq. 7,
    DIP-VAE-II), with Cov_q(z) = E_batch[diag(exp(logvar))] + Cov_batch(mu)."""
    mu = post.mu - post.mu.mean(dim=-2, keepdim=True)
    cov = mu.transpose(-1, -2) @ mu / mu.shape[-2]  # (G, D, D), the batch covariance of mu (biased)
    cov_diag = cov.diagonal(dim1=-2, dim2=-1)  # (G, D)
    off_diagonal = cov.square().sum(dim=(-2, -1)) - cov_diag.square().sum(dim=-1)
    diag = cov_diag + post.logvar.exp().mean(dim=-2)  # the encoder's variances join only the diagonal
    return post.kl_total + lambda_od * off_diagonal + lambda_d * (diag - 1.0).square().sum(dim=-1)


@dataclass(frozen=True)
class Regularizer:
    fn: Callable[..., Tensor]  # fn(post, **settings) -> (G,) penalties; each setting a (G,) tensor
    settings: tuple[str, ...]  # the LossConfig fields it reads, passed by name

    def __call__(self, post: Posterior, settings: dict[str, Tensor]) -> Tensor:
        return self.fn(post, **settings)


REGULARIZERS: dict[str, Regularizer] = {
    "beta": Regularizer(beta_kl, ("beta",)),
    "capacity": Regularizer(capacity, ("capacity_nats", "gamma")),
    "tcvae": Regularizer(tcvae, ("beta",)),
    "dipvae": Regularizer(dipvae, ("lambda_od", "lambda_d")),
}


SETTINGS = tuple(f.name for f in fields(LossConfig) if f.name not in ("name", "kind"))  # every model's settings


def target_capacity(cfg: LossConfig, progress: float) -> float:
    """The capacity target C(t) a config trains towards at `progress` (0 for models without one): logged per epoch."""
    return annealed(cfg.capacity_nats, progress) if "capacity_nats" in cfg.settings else 0.0
