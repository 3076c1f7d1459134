"""MLP beta-VAE for fixed-length 1-D samples (heartbeats, price windows).

The model standardises its input with a scalar mean and std measured on the training set and kept as buffers,
so a saved or registered model takes and returns samples in data units (mV, log return) with no external
preprocessing. `forward` returns the reconstruction of the posterior mean (deterministic), which is what a
served model should do; training uses `encode`, `reparameterize` and `decode_standardized` directly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    input_dim: int
    latent_dim: int = 10  # the mission's latent size
    hidden: tuple[int, ...] = (256, 128)


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class BetaVAE(nn.Module):
    def __init__(self, cfg: ModelConfig, x_mean: float = 0.0, x_std: float = 1.0):
        super().__init__()
        self.cfg = cfg
        hidden = list(cfg.hidden)
        self.encoder = _mlp([cfg.input_dim, *hidden, 2 * cfg.latent_dim])
        self.decoder = _mlp([cfg.latent_dim, *reversed(hidden), cfg.input_dim])
        self.register_buffer("x_mean", torch.tensor(float(x_mean)))
        self.register_buffer("x_std", torch.tensor(float(x_std)))

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.x_mean) / self.x_std

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance (B, D) of samples `x` (B, L) in data units."""
        mu, logvar = self.encoder(self.standardize(x)).chunk(2, dim=-1)
        return mu, logvar

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator=None) -> torch.Tensor:
        eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=generator)
        return mu + eps * torch.exp(0.5 * logvar)

    def decode_standardized(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Samples (B, L) in data units decoded from latents `z` (B, D)."""
        return self.decoder(z) * self.x_std + self.x_mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction (B, L) of `x` (B, L) through the posterior mean, in data units."""
        mu, _ = self.encode(x)
        return self.decode(mu)

    def describe(self) -> dict:
        return {**asdict(self.cfg), "x_mean": float(self.x_mean), "x_std": float(self.x_std)}
