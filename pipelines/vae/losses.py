"""beta-VAE and capacity-controlled beta-VAE losses.

- beta-VAE (Higgins et al. 2017, "beta-VAE: Learning Basic Visual Concepts with a Constrained Variational
  Framework", ICLR): recon + beta * KL; beta = 1 is the plain VAE.
- Capacity control (Burgess et al. 2018, "Understanding disentangling in beta-VAE", arXiv 1804.03599):
  recon + gamma * |KL - C(t)|, with C(t) raised linearly from 0 to C over the annealing steps (gamma = 1000,
  C = 25 nats in the original work).

Reductions (the same in both, so the numbers compare with the papers): the reconstruction term is summed over a
sample's features and averaged over the batch; the KL is summed over latents and averaged over the batch. Mixing
the two (a mean over features with a batch-summed KL, as some popular ports do, AntixK/PyTorch-VAE issue 54)
silently rescales beta by the input size.

Likelihood: Gaussian with fixed std `sigma` on standardised data, so recon = 0.5 * sum(((x - x_hat) / sigma)^2)
per sample (the constant log-normaliser is dropped; it does not change gradients).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pipelines.errors import ConfigError


@dataclass(frozen=True)
class LossConfig:
    """One point of the beta/C sweep. capacity_nats = 0 gives the beta-VAE loss, > 0 the capacity loss."""

    name: str  # partition key, e.g. "b4_c0" or "g1000_c25"
    beta: float = 1.0  # KL weight of the beta-VAE loss (used when capacity_nats == 0)
    capacity_nats: float = 0.0  # target capacity C (Burgess et al. 2018: 25 nats on dSprites)
    gamma: float = 1000.0  # weight of |KL - C(t)| (Burgess et al. 2018)

    def __post_init__(self):
        if self.beta < 0 or self.capacity_nats < 0 or self.gamma < 0:
            raise ConfigError(f"sweep config {self.name}: beta, capacity_nats and gamma must be >= 0")
        if any(ch in self.name for ch in ",|[]") or "..." in self.name:
            raise ConfigError(f"sweep config {self.name!r}: Dagster partition keys may not contain , | [ ] or ...")


def gaussian_recon(x_hat: torch.Tensor, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Per-sample negative Gaussian log-likelihood without its constant, (B,): summed over features."""
    return 0.5 * (((x - x_hat) / sigma) ** 2).sum(dim=-1)


def kl_per_latent(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) per sample and latent, (B, D), in nats."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def capacity_at(step: int, capacity_nats: float, anneal_steps: int) -> float:
    """C(t) = min(C, C * t / T_anneal); the full capacity at once when anneal_steps is 0."""
    if anneal_steps <= 0:
        return capacity_nats
    return min(capacity_nats, capacity_nats * step / anneal_steps)


def vae_loss(recon: torch.Tensor, kl: torch.Tensor, cfg: LossConfig, capacity: float) -> torch.Tensor:
    """Scalar loss from per-sample recon (B,) and per-sample, per-latent KL (B, D), batch-averaged."""
    recon_mean = recon.mean()
    kl_total = kl.sum(dim=-1).mean()
    if cfg.capacity_nats > 0:
        return recon_mean + cfg.gamma * (kl_total - capacity).abs()
    return recon_mean + cfg.beta * kl_total
