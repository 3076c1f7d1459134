"""The registered model of every trained partition, as MLflow loads and serves it: an encoder from samples to
their latent codes.

MLflow logs this file as the model's code ("models from code") with two artifacts, the weights as a torch
`state_dict` (`weights.pt`, loaded with weights_only=True) and the architecture and normalisation as JSON
(`config.json`, pipelines.vae.model.BetaVAE.describe()): nothing is pickled. The file needs torch, numpy and
pandas, not this project, so `mlflow models serve` and `mlflow.pyfunc.load_model` run it anywhere.

    model = mlflow.pyfunc.load_model("models:/ecg-beta-vae@champion")
    model.predict(x)                                  # (N, L) samples in data units -> z0..z9, the posterior means
    model.predict(x, params={"logvar": True})         # ... and logvar_z0..logvar_z9
    model.predict(x, params={"output": "reconstruction"})  # x0..x{L-1}: decoded from the means, in data units
    model.unwrap_python_model().net.decode(z)         # a torch (N, D) batch of latents -> (N, L) samples

Inputs arrive as float64 (JSON has no other float) and are cast to float32 inside, as the model was trained.
"""

import json

import mlflow
import numpy as np
import pandas as pd
import torch
from torch import nn

OUTPUTS = ("latents", "reconstruction")


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them: the layout (and state_dict keys) of BetaVAE's encoder and decoder."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers += [nn.Linear(a, b)] + [nn.ReLU()] * (i < len(sizes) - 2)
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """BetaVAE's weights without its training code: encode to (mean, logvar), decode to data units."""

    def __init__(self, config: dict):
        super().__init__()
        hidden = list(config["hidden"])
        self.latent_dim, self.input_dim = config["latent_dim"], config["input_dim"]
        self.bernoulli = config["likelihood"] == "bernoulli"
        self.encoder = _mlp([self.input_dim, *hidden, 2 * self.latent_dim])
        self.decoder = _mlp([self.latent_dim, *reversed(hidden), self.input_dim])
        self.register_buffer("x_mean", torch.tensor(float(config["x_mean"])))
        self.register_buffer("x_std", torch.tensor(float(config["x_std"])))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder((x - self.x_mean) / self.x_std).chunk(2, dim=-1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        out = self.decoder(z)
        return (torch.sigmoid(out) if self.bernoulli else out) * self.x_std + self.x_mean


class EncoderModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        with open(context.artifacts["config"]) as f:
            self.net = Encoder(json.load(f))
        self.net.load_state_dict(torch.load(context.artifacts["weights"], map_location="cpu", weights_only=True))
        self.net.eval()

    def predict(self, context, model_input: np.ndarray, params: dict | None = None) -> pd.DataFrame:
        params = params or {}
        output = params.get("output", "latents")
        if output not in OUTPUTS:
            raise ValueError(f"params.output must be one of {OUTPUTS}, got {output!r}")
        x = np.asarray(model_input.to_numpy() if isinstance(model_input, pd.DataFrame) else model_input)
        if x.ndim != 2 or x.shape[1] != self.net.input_dim:
            raise ValueError(f"expected (N, {self.net.input_dim}) samples, got an array of shape {x.shape}")
        with torch.no_grad():
            mu, logvar = self.net.encode(torch.as_tensor(x, dtype=torch.float32))
            if output == "reconstruction":
                return _frame(self.net.decode(mu), "x")
        frames = [_frame(mu, "z")] + [_frame(logvar, "logvar_z")] * bool(params.get("logvar", False))
        return pd.concat(frames, axis=1)


def _frame(values: torch.Tensor, prefix: str) -> pd.DataFrame:
    return pd.DataFrame(values.numpy().astype(np.float64), columns=[f"{prefix}{i}" for i in range(values.shape[1])])


mlflow.models.set_model(EncoderModel())
