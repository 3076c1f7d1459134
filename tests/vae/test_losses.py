"""Reconstruction terms: reductions as stated (sum over features, mean over the batch), known values."""

from __future__ import annotations

import math

import pytest
import torch

from pipelines.vae.losses import GridLoss, bernoulli_recon, gaussian_recon
from pipelines.vae.regularizers import LossConfig, Posterior, kl_per_latent


def test_kl_of_standard_normal_posterior_is_zero_and_matches_closed_form():
    mu, logvar = torch.zeros(3, 4), torch.zeros(3, 4)
    assert torch.all(kl_per_latent(mu, logvar) == 0)
    mu, logvar = torch.tensor([[1.0]]), torch.tensor([[math.log(4.0)]])
    # KL(N(1, 4) || N(0, 1)) = 0.5 * (1 + 4 - 1 - ln 4)
    assert kl_per_latent(mu, logvar).item() == pytest.approx(0.5 * (4.0 - math.log(4.0)))


def test_recon_is_summed_over_features_not_averaged():
    x, x_hat = torch.zeros(2, 100), torch.full((2, 100), 0.1)
    assert gaussian_recon(x_hat, x, sigma=0.1).tolist() == pytest.approx([50.0, 50.0])  # 0.5 * 100 * 1


def test_bernoulli_recon_is_the_summed_binary_cross_entropy():
    logits, x = torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]])
    want = math.log(2.0) + math.log(1.0 + math.exp(2.0))  # -log sigmoid(0) - log(1 - sigmoid(2))
    assert bernoulli_recon(logits, x).item() == pytest.approx(want)


def test_loss_is_a_batch_mean_so_batch_size_does_not_rescale_beta():
    """Doubling the batch with copies of itself leaves every term unchanged."""
    x, out = torch.zeros(2, 3), torch.tensor([[[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]]])
    mu, logvar = torch.tensor([[[1.0, 0.0], [2.0, 1.0]]]), torch.zeros(1, 2, 2)
    loss = GridLoss([LossConfig("b4", "beta", beta=4.0)], "gaussian", sigma=0.1)
    single, _ = loss(x, out, Posterior(mu, logvar, mu, 1.0))
    doubled, _ = loss(
        x.repeat(2, 1), out.repeat(1, 2, 1), Posterior(*(t.repeat(1, 2, 1) for t in (mu, logvar, mu)), 1.0)
    )
    assert doubled.item() == pytest.approx(single.item())
    assert single.item() == pytest.approx(7.0 + 4.0 * 1.5)  # recon 0.5 * 0.14 / 0.1^2 each; KL 0.5 and 2.5
