"""Training loop: learns, honours the capacity target, is seeded, checkpoints round-trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipelines.errors import TrainingError
from pipelines.vae.checkpoints import load_checkpoint, save_checkpoint
from pipelines.vae.regularizers import LossConfig
from pipelines.vae.trainer import TrainConfig, train_vae


@pytest.fixture(scope="module")
def sines():
    """Sine waves whose amplitude and phase are the two true factors, 512 x 64."""
    rng = np.random.default_rng(0)
    amp, phase = rng.uniform(0.5, 2.0, 512), rng.uniform(0, np.pi, 512)
    t = np.linspace(0, 2 * np.pi, 64)
    return (amp[:, None] * np.sin(t[None, :] + phase[:, None])).astype(np.float32)


def test_loss_falls_and_history_has_one_entry_per_epoch(sines):
    seen = []
    cfg = TrainConfig(epochs=10, hidden=(64, 32), device="cpu")
    _, history = train_vae(sines, cfg, LossConfig("b1", "beta", beta=1.0), seen.append)
    assert [h["epoch"] for h in history] == list(range(1, 11)) and seen == history
    assert history[-1]["recon"] < 0.5 * history[0]["recon"]
    assert len([k for k in history[0] if k.startswith("kl_")]) == 10


def test_capacity_loss_holds_kl_near_c_after_annealing(sines):
    cfg = TrainConfig(epochs=30, hidden=(64, 32), anneal_fraction=0.5)
    _, history = train_vae(sines, cfg, LossConfig("g1000_c5", "capacity", capacity_nats=5.0, gamma=1000.0))
    assert history[-1]["capacity"] == 5.0
    assert abs(history[-1]["kl"] - 5.0) < 1.0  # Burgess et al.: the KL tracks C within about a nat


def test_same_seed_gives_same_weights(sines):
    cfg = TrainConfig(epochs=2, hidden=(16,))
    a, _ = train_vae(sines, cfg, LossConfig("b1", "beta"))
    b, _ = train_vae(sines, cfg, LossConfig("b1", "beta"))
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)


def test_checkpoint_round_trips_the_model(tmp_path, sines):
    cfg, loss = TrainConfig(epochs=1, hidden=(16,)), LossConfig("b4", "beta", beta=4.0)
    model, history = train_vae(sines, cfg, loss)
    save_checkpoint(tmp_path / "m.pt", model, cfg, loss, history)
    loaded, ckpt = load_checkpoint(tmp_path / "m.pt")
    x = torch.as_tensor(sines[:5])
    assert torch.equal(loaded(x), model(x))
    assert ckpt["loss"]["beta"] == 4.0 and ckpt["history"] == history


def test_non_finite_data_is_refused():
    with pytest.raises(TrainingError, match="finite"):
        train_vae(np.array([[1.0, np.nan], [0.0, 1.0]]), TrainConfig(epochs=1), LossConfig("b1", "beta"))


def test_a_killed_run_resumes_from_its_checkpoint_and_ends_with_the_same_weights(tmp_path, sines):
    cfg = TrainConfig(epochs=6, hidden=(32,), checkpoint_every=2)
    loss = LossConfig(
        "g1000_c5", "capacity", capacity_nats=5.0
    )  # the capacity schedule depends on the resumed step count
    uninterrupted, history = train_vae(sines, cfg, loss)

    def kill_at_epoch_5(metrics):
        if metrics["epoch"] == 5:
            raise KeyboardInterrupt

    resume = tmp_path / "resume.pt"
    with pytest.raises(KeyboardInterrupt):
        train_vae(sines, cfg, loss, on_epoch=kill_at_epoch_5, resume_path=resume)
    assert torch.load(resume, weights_only=False)["epoch"] == 4  # the last checkpoint before the kill
    seen = []
    resumed, resumed_history = train_vae(sines, cfg, loss, on_epoch=seen.append, resume_path=resume)
    # the restored epochs are replayed to on_epoch first, so the resumed run's MLflow run holds the whole history
    assert [m["epoch"] for m in seen] == [1, 2, 3, 4, 5, 6] and len(resumed_history) == 6
    assert seen[:4] == resumed_history[:4]
    for a, b in zip(uninterrupted.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert not resume.exists()  # removed once training completed


def test_a_checkpoint_from_other_data_is_not_resumed(tmp_path, sines):
    cfg = TrainConfig(epochs=2, hidden=(16,), checkpoint_every=1)
    resume = tmp_path / "resume.pt"

    def keep_checkpoint(metrics):
        if metrics["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_vae(sines, cfg, LossConfig("b1", "beta"), on_epoch=keep_checkpoint, resume_path=resume)
    seen = []
    train_vae(sines[::-1].copy(), cfg, LossConfig("b1", "beta"), on_epoch=seen.append, resume_path=resume)
    assert [m["epoch"] for m in seen] == [1, 2]  # started afresh


def test_each_epoch_logs_its_rate_and_the_time_left(sines, caplog):
    with caplog.at_level("INFO", logger="pipelines.vae.trainer"):
        train_vae(sines, TrainConfig(epochs=3, hidden=(16,), device="cpu"), LossConfig("b1", "beta"))
    lines = [r.getMessage() for r in caplog.records if " epoch " in r.getMessage()]
    assert len(lines) == 3 and all("samples/s" in line and "ETA" in line for line in lines)
    assert lines[-1].endswith("ETA 0 s")
