"""The vectorised grid trains each config exactly as it would be trained alone, and as a plain nn.Module loop
written out here independently of the trainer."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from pipelines.errors import ConfigError
from pipelines.vae import cpu_math, trainer
from pipelines.vae.losses import LossConfig, capacity_at, kl_per_latent, recon_loss, vae_loss
from pipelines.vae.model import BetaVAE, ModelConfig
from pipelines.vae.trainer import TrainConfig, noise_seed, train_grid, train_vae

GRID = [
    LossConfig("b1_c0", beta=1.0),
    LossConfig("b4_c0", beta=4.0),
    LossConfig("g1000_c5", capacity_nats=5.0, gamma=1000.0),
    LossConfig("g100_c2", capacity_nats=2.0, gamma=100.0),
]
SMALL = TrainConfig(epochs=3, batch_size=64, hidden=(32, 16), anneal_fraction=0.5, checkpoint_every=0, device="cpu")


@pytest.fixture(scope="module")
def sines():
    rng = np.random.default_rng(1)
    amp, phase = rng.uniform(0.5, 2.0, 300), rng.uniform(0, np.pi, 300)
    t = np.linspace(0, 2 * np.pi, 48)
    return (amp[:, None] * np.sin(t[None, :] + phase[:, None])).astype(np.float32)


def plain_loop(x: np.ndarray, cfg: TrainConfig, loss_cfg: LossConfig) -> tuple[BetaVAE, list[float]]:
    """One config with nn.Linear layers and per-batch vae_loss, drawing shuffles and noise as the trainer
    documents: one order stream seeded by `seed`, one noise stream per config, (N, D) noise per epoch; data scaled
    to standard units (Gaussian) or to [0, 1] (Bernoulli)."""
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
            capacity = capacity_at(step, loss_cfg.capacity_nats, anneal)
            recon = recon_loss(x_hat, batch, cfg.likelihood, cfg.recon_sigma)
            loss = vae_loss(recon, kl_per_latent(mu, logvar), loss_cfg, capacity)
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
    grid = train_grid(sines, cfg, GRID)
    assert len(grid) == len(GRID)
    for (model, history), loss_cfg in zip(grid, GRID, strict=True):
        alone, alone_history = train_vae(sines, cfg, loss_cfg)
        np.testing.assert_allclose([h["loss"] for h in history], [h["loss"] for h in alone_history], rtol=1e-5)
        assert [h["capacity"] for h in history] == [h["capacity"] for h in alone_history]
        assert_close_weights(model, alone, atol=1e-5)


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_grid_matches_a_plain_module_loop(sines, likelihood):
    """The hand-written backward pass (pipelines.vae.fused) gives autograd's gradients, for both likelihoods and
    both losses."""
    cfg = replace(SMALL, likelihood=likelihood)
    for (model, history), loss_cfg in zip(train_grid(sines, cfg, GRID), GRID, strict=True):
        reference, reference_losses = plain_loop(sines, cfg, loss_cfg)
        np.testing.assert_allclose([h["loss"] for h in history], reference_losses, rtol=1e-5)
        assert_close_weights(model, reference, atol=1e-5)


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
@pytest.mark.parametrize("tensors", [True, False], ids=["bf16-tensors", "onednn-bf16-mode"])
def test_bf16_matmuls_stay_close_in_either_form(sines, likelihood, tensors, monkeypatch):
    """Both forms of bf16 matrix multiplies on a CPU (bf16 weight copy, or oneDNN's mode on float32 tensors, picked
    by the CPU: cpu_math.bf16_tensors) train within 5% of the float32 losses, and do compute in bf16 (the losses
    differ from float32's) wherever the form has bf16 to use (the copy always: emulated without hardware bf16)."""
    monkeypatch.setattr(cpu_math, "bf16_tensors", lambda device: tensors)
    cfg = replace(SMALL, likelihood=likelihood)
    fp32 = [[h["loss"] for h in history] for _, history in train_grid(sines, cfg, GRID)]
    bf16 = [[h["loss"] for h in history] for _, history in train_grid(sines, replace(cfg, amp="bf16"), GRID)]
    np.testing.assert_allclose(bf16, fp32, rtol=0.05)
    if tensors or cpu_math.has_bf16_mode():
        assert not np.array_equal(bf16, fp32)


def test_configs_of_a_grid_learn_differently(sines):
    cfg = TrainConfig(epochs=6, hidden=(32,), anneal_fraction=0.5, checkpoint_every=0)
    (_, b1), (_, b4), (_, c5), _ = train_grid(sines, cfg, GRID)
    assert b4[-1]["kl"] < b1[-1]["kl"]  # a larger beta squeezes the KL
    assert c5[-1]["capacity"] == 5.0


def test_grid_names_must_be_distinct(sines):
    with pytest.raises(ConfigError, match="distinct"):
        train_grid(sines, TrainConfig(epochs=1), [LossConfig("a"), LossConfig("a", beta=2.0)])


def test_a_killed_grid_resumes_and_ends_with_the_same_weights(tmp_path, sines):
    cfg = TrainConfig(epochs=5, hidden=(16,), checkpoint_every=2, device="cpu")
    uninterrupted = train_grid(sines, cfg, GRID)

    def kill_at_epoch_4(g, metrics):
        if metrics["epoch"] == 4:
            raise KeyboardInterrupt

    resume = tmp_path / "grid-resume.pt"
    with pytest.raises(KeyboardInterrupt):
        train_grid(sines, cfg, GRID, on_epoch=kill_at_epoch_4, resume_path=resume)
    resumed = train_grid(sines, cfg, GRID, resume_path=resume)
    for (a, ha), (b, hb) in zip(uninterrupted, resumed, strict=True):
        assert [m["epoch"] for m in hb] == [1, 2, 3, 4, 5] and [m["loss"] for m in ha] == [m["loss"] for m in hb]
        for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
            assert torch.equal(pa, pb)


def test_bernoulli_likelihood_learns_and_decodes_within_the_data_range(sines):
    cfg = TrainConfig(epochs=100, hidden=(64, 32), likelihood="bernoulli", checkpoint_every=0)
    model, history = train_vae(sines, cfg, LossConfig("b1"))
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
    """The captured step (warm-up steps undone) trains exactly as the eager one; bf16 matmuls stay close."""
    cfg = TrainConfig(epochs=4, batch_size=64, hidden=(32, 16), anneal_fraction=0.5, device="cuda", amp="off")
    graphed = train_grid(sines, cfg, GRID)
    eager = train_grid(sines, replace(cfg, cuda_graphs=False), GRID)
    bf16 = train_grid(sines, replace(cfg, amp="bf16"), GRID)
    for (g, hg), (e, he), (_, hb) in zip(graphed, eager, bf16, strict=True):
        np.testing.assert_allclose([h["loss"] for h in hg], [h["loss"] for h in he], rtol=1e-5)
        np.testing.assert_allclose([h["loss"] for h in hb], [h["loss"] for h in he], rtol=0.05)
        assert_close_weights(g, e, atol=1e-4)


@pytest.mark.parametrize("amp", ["off", "bf16"])
def test_adam_stepped_layer_by_layer_is_adam_over_the_whole_parameter(sines, monkeypatch, amp):
    """On a CPU the trainer steps Adam per layer inside the backward pass (cache locality), and with bf16 tensors
    casts each layer's bf16 copy right after; the result is the same as one Adam step over the flat parameter after
    the backward and one cast of all the weights before the next step."""
    monkeypatch.setattr(cpu_math, "bf16_tensors", lambda device: True)
    cfg = replace(SMALL, batch_size=32, amp=amp)
    by_layer = train_grid(sines, cfg, GRID)
    monkeypatch.setattr(trainer._Stepper, "_layer_adam", lambda self: None)  # opt.step() after the backward
    whole = train_grid(sines, cfg, GRID)
    for (model, history), (reference, reference_history) in zip(by_layer, whole, strict=True):
        assert [h["loss"] for h in history] == [h["loss"] for h in reference_history]
        assert_close_weights(model, reference, atol=0.0)
