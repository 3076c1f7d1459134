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

Likelihood (`train.likelihood`):
- "gaussian": fixed std `sigma` on standardised data, recon = 0.5 * sum(((x - x_hat) / sigma)^2) per sample (the
  constant log-normaliser is dropped; it does not change gradients);
- "bernoulli": samples min-max scaled to [0, 1] and the decoder's outputs read as logits, recon = the binary
  cross-entropy summed over features (the likelihood of Higgins et al. and Burgess et al. on binary images;
  for real-valued signals it is the "continuous" use of BCE, so scale-free but not a true likelihood).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pipelines.vae.sweep import LossConfig  # noqa: F401  (the config of these losses; torch-free, for the CLI)


def gaussian_recon(x_hat: torch.Tensor, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Per-sample negative Gaussian log-likelihood without its constant, (B,): summed over features."""
    return 0.5 * (((x - x_hat) / sigma) ** 2).sum(dim=-1)


def bernoulli_recon(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample binary cross-entropy of targets `x` in [0, 1] (clamped) under `logits`, (B,): summed over
    features."""
    target = x.clamp(0.0, 1.0).expand_as(logits)
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(dim=-1)


def recon_loss(out: torch.Tensor, x: torch.Tensor, likelihood: str, sigma: float) -> torch.Tensor:
    """Per-sample negative log-likelihood (...,) of normalised `x` under the decoder's raw output `out`."""
    return bernoulli_recon(out, x) if likelihood == "bernoulli" else gaussian_recon(out, x, sigma)


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


def loss_weights(cfgs: list[LossConfig], device=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(beta, gamma, C) tensors (G,) for the G models of a grid (`pipelines.vae.fused`): a capacity model weighs
    the KL by gamma * |KL - C(t)| and not by beta; a beta-VAE model by beta, with gamma 0."""
    capacity_on = [c.capacity_nats > 0 for c in cfgs]
    beta = [0.0 if on else c.beta for c, on in zip(cfgs, capacity_on, strict=True)]
    gamma = [c.gamma if on else 0.0 for c, on in zip(cfgs, capacity_on, strict=True)]
    return tuple(
        torch.tensor(v, dtype=torch.float32, device=device) for v in (beta, gamma, [c.capacity_nats for c in cfgs])
    )
