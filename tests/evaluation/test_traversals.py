"""Traversals sweep exactly one latent per row and hold the others at the input's posterior mean."""

from __future__ import annotations

import numpy as np
import torch

from pipelines.evaluation.traversals import plot_traversals, traverse
from pipelines.vae.model import BetaVAE, ModelConfig


def test_each_row_sweeps_one_latent_from_minus_to_plus_limit(tmp_path):
    torch.manual_seed(0)
    model = BetaVAE(ModelConfig(input_dim=20, latent_dim=4, hidden=(8,)), x_mean=1.0, x_std=2.0).eval()
    x0 = np.linspace(-1, 1, 20).astype(np.float32)
    values, decoded = traverse(model, x0, limit=3.0, steps=7)
    assert values.tolist() == [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    assert decoded.shape == (4, 7, 20)
    mu, _ = model.encode(torch.as_tensor(x0[None]))
    z = mu.repeat(7, 1)
    z[:, 2] = torch.as_tensor(values)
    np.testing.assert_allclose(decoded[2], model.decode(z).detach().numpy(), rtol=1e-5)
    plot_traversals(tmp_path / "t.png", x0, values, decoded, np.array([0.1, 2.0, 0.5, 0.0]), np.arange(20),
                    "minutes", ["log return"], "test")  # fmt: skip
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
