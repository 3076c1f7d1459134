"""Losses: reductions as stated (sum over features/latents, mean over batch), capacity schedule, known values."""

from __future__ import annotations

import math

import pytest
import torch

from pipelines.errors import ConfigError
from pipelines.vae.losses import LossConfig, capacity_at, gaussian_recon, kl_per_latent, vae_loss


def test_kl_of_standard_normal_posterior_is_zero_and_matches_closed_form():
    mu, logvar = torch.zeros(3, 4), torch.zeros(3, 4)
    assert torch.all(kl_per_latent(mu, logvar) == 0)
    mu, logvar = torch.tensor([[1.0]]), torch.tensor([[math.log(4.0)]])
    # KL(N(1, 4) || N(0, 1)) = 0.5 * (1 + 4 - 1 - ln 4)
    assert kl_per_latent(mu, logvar).item() == pytest.approx(0.5 * (4.0 - math.log(4.0)))


def test_recon_is_summed_over_features_not_averaged():
    x, x_hat = torch.zeros(2, 100), torch.full((2, 100), 0.1)
    assert gaussian_recon(x_hat, x, sigma=0.1).tolist() == pytest.approx([50.0, 50.0])  # 0.5 * 100 * 1


def test_loss_is_a_batch_mean_so_batch_size_does_not_rescale_beta():
    recon, kl = torch.tensor([10.0, 30.0]), torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    cfg = LossConfig("b4", beta=4.0)
    assert vae_loss(recon, kl, cfg, 0.0).item() == pytest.approx(20.0 + 4.0 * 5.0)
    doubled = vae_loss(recon.repeat(2), kl.repeat(2, 1), cfg, 0.0)
    assert doubled.item() == pytest.approx(40.0)


def test_capacity_loss_is_recon_alone_when_kl_equals_c():
    recon, kl = torch.tensor([7.0]), torch.tensor([[10.0, 15.0]])
    cfg = LossConfig("g1000_c25", capacity_nats=25.0, gamma=1000.0)
    assert vae_loss(recon, kl, cfg, capacity=25.0).item() == pytest.approx(7.0)
    assert vae_loss(recon, kl, cfg, capacity=24.0).item() == pytest.approx(7.0 + 1000.0)


def test_capacity_rises_linearly_then_holds():
    assert [capacity_at(s, 25.0, 100) for s in (0, 50, 100, 200)] == [0.0, 12.5, 25.0, 25.0]
    assert capacity_at(0, 25.0, 0) == 25.0


@pytest.mark.parametrize("name", ["a,b", "a|b", "a[1]", "a...b", "../b4", "b4/c0", "b4'", ".hidden", ""])
def test_config_names_that_break_partition_keys_paths_or_filters_are_rejected(name):
    with pytest.raises(ConfigError, match="partition key, a directory name and an MLflow tag"):
        LossConfig(name)


def test_ordinary_config_names_are_accepted():
    for name in ("b4_c0", "g1000_c25", "b0.5_c1.5", "run-2"):
        assert LossConfig(name).name == name
