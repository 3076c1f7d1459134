"""The training loss of G stacked models: loss_g = recon_g + regularizer_g, each a batch mean.

Reductions (as in the papers, so the numbers compare with them): the reconstruction term is summed over a sample's
features and averaged over the batch; regularizers sum the KL over latents and average over the batch. Mixing the
two (a mean over features with a batch-summed KL, as some popular ports do, AntixK/PyTorch-VAE issue 54) silently
rescales beta by the input size.

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

from pipelines.vae.regularizers import REGULARIZERS, LossConfig, Posterior


def gaussian_recon(x_hat: torch.Tensor, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Per-sample negative Gaussian log-likelihood without its constant, (..., B): summed over features."""
    return (x_hat - x).square().sum(dim=-1).mul(0.5 / sigma**2)


def bernoulli_recon(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample binary cross-entropy of targets `x` in [0, 1] (clamped) under `logits`, (..., B): summed over
    features."""
    target = x.clamp(0.0, 1.0).expand_as(logits)
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(dim=-1)


def recon_loss(out: torch.Tensor, x: torch.Tensor, likelihood: str, sigma: float) -> torch.Tensor:
    """Per-sample negative log-likelihood (..., B) of normalised `x` under the decoder's raw output `out`."""
    return bernoulli_recon(out, x) if likelihood == "bernoulli" else gaussian_recon(out, x, sigma)


class GridLoss:
    """The loss of G models of any kinds: the models of one kind are regularized together, each with its own
    settings ((G_kind,) tensors made once)."""

    def __init__(self, cfgs: list[LossConfig], likelihood: str, sigma: float, device=None):
        self.likelihood, self.sigma = likelihood, sigma
        self.groups = []  # (regularizer, model indices or None for all, settings)
        for kind in dict.fromkeys(c.kind for c in cfgs):  # kinds in order of first appearance
            members = [i for i, c in enumerate(cfgs) if c.kind == kind]
            reg = REGULARIZERS[kind]
            settings = {k: torch.tensor([getattr(cfgs[i], k) for i in members], device=device) for k in reg.settings}
            index = None if len(members) == len(cfgs) else torch.tensor(members, device=device)
            self.groups.append((reg, index, settings))

    def __call__(self, x: torch.Tensor, out: torch.Tensor, post: Posterior) -> tuple[torch.Tensor, torch.Tensor]:
        """Each model's loss and reconstruction term (G,), batch means, given the normalised batch `x` (B, L), the
        decoder's output `out` (G, B, L) and the posterior (each (G, B, D))."""
        recon = recon_loss(out.float(), x, self.likelihood, self.sigma).mean(dim=-1)
        loss = recon
        for reg, index, settings in self.groups:
            if index is None:  # one kind for all models
                loss = loss + reg(post, settings)
            else:
                part = Posterior(*(t.index_select(0, index) for t in (post.mu, post.logvar, post.z)), post.progress)
                loss = loss.index_add(0, index, reg(part, settings))
        return loss, recon
