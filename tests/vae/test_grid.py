"""The vectorised grid trains each config exactly as it would be trained alone, and as a plain nn.Module loop
with the losses written out here independently of the trainer's."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from pipelines.errors import ConfigError, TrainingError
from pipelines.vae.model import BetaVAE, ModelConfig
from pipelines.vae.regularizers import LossConfig
from pipelines.vae.trainer import TrainConfig, noise_seed, train_grid, train_vae

GRID = [
    LossConfig("b1_c0", "beta", beta=1.0),
    LossConfig("b4_c0", "beta", beta=4.0),
    LossConfig("g1000_c5", "capacity", capacity_nats=5.0, gamma=1000.0),
    LossConfig("g100_c2", "capacity", capacity_nats=2.0, gamma=100.0),
]
EVERY_KIND = [*GRID, LossConfig("tc6", "tcvae", beta=6.0), LossConfig("dip10", "dipvae", lambda_od=10.0, lambda_d=10.0)]
SMALL = TrainConfig(epochs=3, batch_size=64, hidden=(32, 16), anneal_fraction=0.5, checkpoint_every=0, device="cpu")


@pytest.fixture(scope="module")
def sines():
    rng = np.random.default_rng(1)
    amp, phase = rng.uniform(0.5, 2.0, 300), rng.uniform(0, np.pi, 300)
    t = np.linspace(0, 2 * np.pi, 48)
    return (amp[:, None] * np.sin(t[None, :] + phase[:, None])).astype(np.float32)


def plain_loss(x_hat, x, mu, logvar, likelihood: str, sigma: float, loss_cfg: LossConfig, step: int, anneal: int):
    """The loss of one model on one batch, from the papers' formulas: recon summed over features, KL summed over
    latents, both averaged over the batch; beta * KL or gamma * |KL - C t / T|."""
    if likelihood == "bernoulli":
        recon = torch.nn.functional.binary_cross_entropy_with_logits(x_hat, x.clamp(0, 1), reduction="sum") / len(x)
    else:
        recon = 0.5 * ((x - x_hat) ** 2).sum() / sigma**2 / len(x)
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum() / len(x)
    if loss_cfg.kind == "capacity":
        target = loss_cfg.capacity_nats * min(1.0, step / anneal) if anneal else loss_cfg.capacity_nats
        return recon + loss_cfg.gamma * (kl - target).abs()
    return recon + loss_cfg.beta * kl


def plain_loop(x: np.ndarray, cfg: TrainConfig, loss_cfg: LossConfig) -> tuple[BetaVAE, list[float]]:
    """One config with nn.Linear layers and `plain_loss`, drawing shuffles and noise as the trainer documents: one
    order stream seeded by `seed`, one noise stream per config, (N, D) noise per epoch; data scaled to standard
    units (Gaussian) or to [0, 1] (Bernoulli)."""
    torch.manual_seed(cfg.seed)
    offset, scale = (x.min(), np.ptp(x)) if cfg.likelihood == "bernoulli" else (x.mean(), x.std())
    model = BetaVAE(ModelConfig(x.shape[1], cfg.latent_dim, cfg.hidden, cfg.likelihood), float(offset), float(scale))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    data = model.standardize(torch.as_tensor(x))
    n = len(data)
    anneal = int(cfg.anneal_fraction * cfg.epochs * math.ceil(n / cfg.batch_size))
    order = torch.Generator().manual_seed(cfg.seed)
    noise = torch.Generator().manual_seed(noise_seed(cfg.seed, loss_cfg.name))
    losses, step = [], 0
    for _ in range(cfg.epochs):
        perm, eps = torch.randperm(n, generator=order), torch.randn(n, cfg.latent_dim, generator=noise)
        total = 0.0
        for start in range(0, n, cfg.batch_size):
            batch = data[perm[start : start + cfg.batch_size]]
            mu, logvar = model.encoder(batch).chunk(2, dim=-1)
            x_hat = model.decoder(mu + eps[start : start + cfg.batch_size] * torch.exp(0.5 * logvar))
            loss = plain_loss(x_hat, batch, mu, logvar, cfg.likelihood, cfg.recon_sigma, loss_cfg, step, anneal)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            total += loss.item() * len(batch)
        losses.append(total / n)
    return model.eval(), losses


def assert_close_weights(a: BetaVAE, b: BetaVAE, atol: float) -> None:
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.allclose(pa, pb, atol=atol, rtol=0), f"{name} differs by {(pa - pb).abs().max():.2e}"


def test_grid_matches_each_config_trained_alone(sines):
    cfg = replace(SMALL, epochs=4, batch_size=32)
    grid = train_grid(sines, cfg, EVERY_KIND)
    assert list(grid) == [(c.name, cfg.seed) for c in EVERY_KIND]  # keyed by (config, seed), in config order
    for (model, history), loss_cfg in zip(grid.values(), EVERY_KIND, strict=True):
        alone, alone_history = train_vae(sines, cfg, loss_cfg)
        np.testing.assert_allclose([h["loss"] for h in history], [h["loss"] for h in alone_history], rtol=1e-5)
        assert [h["capacity"] for h in history] == [h["capacity"] for h in alone_history]
        assert_close_weights(model, alone, atol=1e-5)


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_grid_matches_a_plain_module_loop(sines, likelihood):
    """The stacked models with their grid loss train as plain modules with the papers' losses, for both likelihoods
    and both kinds of model."""
    cfg = replace(SMALL, likelihood=likelihood)
    for (model, history), loss_cfg in zip(train_grid(sines, cfg, GRID).values(), GRID, strict=True):
        reference, reference_losses = plain_loop(sines, cfg, loss_cfg)
        np.testing.assert_allclose([h["loss"] for h in history], reference_losses, rtol=1e-5)
        assert_close_weights(model, reference, atol=1e-5)


def test_bf16_autocast_stays_close_to_float32(sines):
    """train.amp bf16 computes the matrix multiplies in bf16 (the losses differ from float32's) and trains within
    5% of the float32 losses."""
    fp32 = [[h["loss"] for h in history] for _, history in train_grid(sines, SMALL, GRID).values()]
    bf16 = [[h["loss"] for h in history] for _, history in train_grid(sines, replace(SMALL, amp="bf16"), GRID).values()]
    np.testing.assert_allclose(bf16, fp32, rtol=0.05)
    assert not np.array_equal(bf16, fp32)


def test_configs_of_a_grid_learn_differently(sines):
    cfg = TrainConfig(epochs=6, hidden=(32,), anneal_fraction=0.5, checkpoint_every=0)
    (_, b1), (_, b4), (_, c5), _, (_, tc6), (_, dip) = train_grid(sines, cfg, EVERY_KIND).values()
    assert b4[-1]["kl"] < b1[-1]["kl"]  # a larger beta squeezes the KL
    assert c5[-1]["capacity"] == 5.0
    assert all(h[-1]["recon"] < h[0]["recon"] for h in (tc6, dip))  # the new kinds learn too


def test_seeds_train_in_one_grid_and_each_is_independent_of_the_others(sines):
    """Configs x seeds in one pass, configs first; a seed's model is the one a grid of that seed alone gives (same
    batch order, its own initial weights and noise), and different seeds give different models."""
    cfg = replace(SMALL, epochs=2)
    grid = train_grid(sines, cfg, GRID[:2], seeds=[0, 7])
    one, two = GRID[0].name, GRID[1].name
    assert list(grid) == [(one, 0), (one, 7), (two, 0), (two, 7)]
    alone, alone_history = train_grid(sines, cfg, [GRID[1]], seeds=[7])[(two, 7)]
    model, history = grid[(two, 7)]
    np.testing.assert_allclose([h["loss"] for h in history], [h["loss"] for h in alone_history], rtol=1e-5)
    assert_close_weights(model, alone, atol=1e-5)
    assert not torch.equal(grid[(two, 0)][0].encoder[0].weight, grid[(two, 7)][0].encoder[0].weight)
    with pytest.raises(ConfigError, match="seeds must be distinct"):
        train_grid(sines, cfg, GRID[:1], seeds=[1, 1])


def test_grid_names_must_be_distinct(sines):
    with pytest.raises(ConfigError, match="distinct"):
        train_grid(sines, TrainConfig(epochs=1), [LossConfig("a", "beta"), LossConfig("a", "beta", beta=2.0)])


def test_a_killed_grid_resumes_and_ends_with_the_same_weights(tmp_path, sines):
    cfg = TrainConfig(epochs=5, hidden=(16,), checkpoint_every=2, device="cpu")
    uninterrupted = train_grid(sines, cfg, GRID)

    def kill_at_epoch_4(member, metrics):
        if metrics["epoch"] == 4:
            raise KeyboardInterrupt

    resume = tmp_path / "grid-resume.pt"
    with pytest.raises(KeyboardInterrupt):
        train_grid(sines, cfg, GRID, on_epoch=kill_at_epoch_4, resume_path=resume)
    resumed = train_grid(sines, cfg, GRID, resume_path=resume)
    for (a, ha), (b, hb) in zip(uninterrupted.values(), resumed.values(), strict=True):
        assert [m["epoch"] for m in hb] == [1, 2, 3, 4, 5] and [m["loss"] for m in ha] == [m["loss"] for m in hb]
        for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
            assert torch.equal(pa, pb)


def test_bernoulli_likelihood_learns_and_decodes_within_the_data_range(sines):
    cfg = TrainConfig(epochs=100, hidden=(64, 32), likelihood="bernoulli", checkpoint_every=0)
    model, history = train_vae(sines, cfg, LossConfig("b1", "beta"))
    assert history[-1]["recon"] < history[0]["recon"]
    assert model.cfg.likelihood == "bernoulli"
    assert float(model.x_mean) == pytest.approx(sines.min()) and float(model.x_std) == pytest.approx(np.ptp(sines))
    with torch.no_grad():
        out = model(torch.as_tensor(sines[:20]))
    assert out.min() >= sines.min() - 1e-5 and out.max() <= sines.max() + 1e-5  # sigmoid, then back to data units
    correlation = np.corrcoef(out.numpy().ravel(), sines[:20].ravel())[0, 1]
    assert correlation > 0.8


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
def test_cuda_graph_replay_matches_the_eager_cuda_loop(sines):
    """The captured step (warm-up steps undone; the epoch's short last batch eager) trains exactly as the eager
    one; bf16 autocast stays close."""
    cfg = TrainConfig(epochs=4, batch_size=64, hidden=(32, 16), anneal_fraction=0.5, device="cuda", amp="off")
    graphed = train_grid(sines, cfg, GRID)
    eager = train_grid(sines, replace(cfg, cuda_graphs=False), GRID)
    bf16 = train_grid(sines, replace(cfg, amp="bf16"), GRID)
    for (g, hg), (e, he), (_, hb) in zip(graphed.values(), eager.values(), bf16.values(), strict=True):
        np.testing.assert_allclose([h["loss"] for h in hg], [h["loss"] for h in he], rtol=1e-5)
        np.testing.assert_allclose([h["loss"] for h in hb], [h["loss"] for h in he], rtol=0.05)
        assert_close_weights(g, e, atol=1e-4)


def test_a_diverging_member_fails_alone_and_the_others_train_as_they_would_without_it(sines):
    """A member whose loss overflows (beta 1e38: its KL term is infinite from the first step) is listed as failed
    with its reason; the grid's other members train on, to the same weights as in a grid without it."""
    cfg = replace(SMALL, epochs=2)
    wild = LossConfig("wild", "beta", beta=1e38)
    grid = train_grid(sines, cfg, [GRID[0], wild], seeds=[0, 1])
    assert list(grid) == [(GRID[0].name, 0), (GRID[0].name, 1)]
    assert set(grid.failed) == {("wild", 0), ("wild", 1)}
    assert grid.failed[("wild", 1)] == "wild/seed1: loss became inf at epoch 1 (diverged); lower train.lr"
    without = train_grid(sines, cfg, [GRID[0]], seeds=[0, 1])
    for key, (model, history) in without.items():
        np.testing.assert_allclose([h["loss"] for h in grid[key][1]], [h["loss"] for h in history], rtol=1e-5)
        assert_close_weights(grid[key][0], model, atol=1e-5)
    with pytest.raises(TrainingError, match="wild: loss became inf at epoch 1"):  # alone, it is an error
        train_vae(sines, cfg, wild)
