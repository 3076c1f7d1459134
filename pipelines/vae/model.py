"""MLP beta-VAE for fixed-length 1-D samples (heartbeats, price windows), and the same network stacked G times
so that a whole beta/C grid trains in one pass.

The model normalises its input with a scalar offset and scale measured on the training set and kept as buffers
(`x_mean`, `x_std`), so a saved or registered model takes and returns samples in data units (mV, log return)
with no external preprocessing. With the Gaussian likelihood they are the training mean and std; with the
Bernoulli likelihood the training minimum and range, so that normalised samples lie in [0, 1] and the decoder
emits logits. `forward` returns the reconstruction of the posterior mean (deterministic), which is what a
served model should do; training uses `encode`, `reparameterize` and `decode_standardized` directly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from pipelines.errors import ConfigError

LIKELIHOODS = ("gaussian", "bernoulli")


@dataclass(frozen=True)
class ModelConfig:
    input_dim: int
    latent_dim: int = 10  # the mission's latent size
    hidden: tuple[int, ...] = (256, 128)
    likelihood: str = "gaussian"  # "gaussian" (decoder emits the mean) or "bernoulli" (decoder emits logits)

    def __post_init__(self):
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")


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
        """The decoder's raw output: the normalised mean (Gaussian) or the logits (Bernoulli)."""
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Samples (B, L) in data units decoded from latents `z` (B, D)."""
        out = self.decoder(z)
        if self.cfg.likelihood == "bernoulli":
            out = torch.sigmoid(out)
        return out * self.x_std + self.x_mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction (B, L) of `x` (B, L) through the posterior mean, in data units."""
        mu, _ = self.encode(x)
        return self.decode(mu)

    def describe(self) -> dict:
        return {**asdict(self.cfg), "x_mean": float(self.x_mean), "x_std": float(self.x_std)}


class StackedVAE(nn.Module):
    """G BetaVAEs of one shape as one module: every Linear layer's weights are stacked to (G, in, out) and its
    biases to (G, 1, out), so a layer is one batched matrix multiply for all G models. The models share the input
    batch and the normalisation; each model's loss depends on its own weights only, so the gradient of the sum of
    the G losses is each model's own gradient, and Adam (elementwise) trains each model as if alone (up to float
    rounding in the batched kernels)."""

    def __init__(self, models: list[BetaVAE]):
        super().__init__()
        first = models[0]
        if any(m.cfg != first.cfg or m.describe() != first.describe() for m in models):
            raise ConfigError("stacked models must share their config and normalisation")
        self.cfg, self.size = first.cfg, len(models)
        self.register_buffer("x_mean", first.x_mean.clone())
        self.register_buffer("x_std", first.x_std.clone())
        self.encoder, self.decoder = (_stack([getattr(m, mlp) for m in models]) for mlp in ("encoder", "decoder"))

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.x_mean) / self.x_std

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(decoder output (G, B, L), mu, logvar, z (each (G, B, D))) of the normalised batch `x` (B, L) shared by
        the G models, given each model's noise `eps` (G, B, D): z = mu + eps * std."""
        mu, logvar = _stacked_mlp(x, self.encoder, self.size).float().chunk(2, dim=-1)
        z = mu + eps * torch.exp(0.5 * logvar)
        return _stacked_mlp(z, self.decoder, self.size), mu, logvar, z

    def unstack(self, g: int) -> BetaVAE:
        """Model `g` as a plain BetaVAE (CPU, eval mode): what is saved, logged and registered."""
        model = BetaVAE(self.cfg, float(self.x_mean), float(self.x_std))
        for mlp, params in ((model.encoder, self.encoder), (model.decoder, self.decoder)):
            for index, w, b in zip(_linears(mlp), params[0::2], params[1::2], strict=True):
                mlp[index].weight.data.copy_(w[g].T)
                mlp[index].bias.data.copy_(b[g, 0])
        return model.eval()


def _stack(mlps: list[nn.Sequential]) -> nn.ParameterList:
    """The Linear layers of G MLPs of one shape as [weight (G, in, out), bias (G, 1, out), ...]."""
    params = []
    for i in _linears(mlps[0]):
        params.append(torch.stack([mlp[i].weight.detach().T for mlp in mlps]))
        params.append(torch.stack([mlp[i].bias.detach()[None] for mlp in mlps]))
    return nn.ParameterList(params)


def _stacked_mlp(h: torch.Tensor, params: nn.ParameterList, size: int) -> torch.Tensor:
    """Linear layers (weight, bias alternating in `params`) with ReLU between them, G models at once; `h` is (B, F)
    shared by all (a stride-0 view, no copy) or (G, B, F)."""
    if h.dim() == 2:
        h = h.expand(size, *h.shape)
    layers = len(params) // 2
    for i in range(layers):
        h = torch.baddbmm(params[2 * i + 1], h, params[2 * i])
        if i < layers - 1:
            h = torch.relu(h)
    return h


def _linears(mlp: nn.Sequential) -> list[int]:
    return [i for i, layer in enumerate(mlp) if isinstance(layer, nn.Linear)]


def init_models(cfg: ModelConfig, seeds: list[int], x_mean: float, x_std: float) -> list[BetaVAE]:
    """One BetaVAE per seed, each initialised from its seed (PyTorch's default Linear init), as one run would be."""
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(BetaVAE(cfg, x_mean, x_std))
    return models
