"""Training loop for one beta-VAE config: the data live as one standardised tensor on the device and are sliced
per batch (no DataLoader over in-memory tensors: slicing a resident tensor is far faster), Adam, seeded.

The loop reads top to bottom: shuffle -> per batch (capacity target -> forward -> loss -> step) -> epoch
metrics -> callback. Metrics reach the caller through `on_epoch(metrics)`; the Dagster asset passes the MLflow
logger, a test passes `list.append`. CUDA is used when present.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from pipelines.errors import TrainingError
from pipelines.storage import atomic_path
from pipelines.vae.losses import LossConfig, capacity_at, gaussian_recon, kl_per_latent, vae_loss
from pipelines.vae.model import BetaVAE, ModelConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 50  # the mission's default
    batch_size: int = 64
    lr: float = 5e-4  # Adam, the mission's default
    latent_dim: int = 10
    hidden: tuple[int, ...] = (256, 128)
    recon_sigma: float = 0.1  # std of the Gaussian likelihood, in standardised data units
    anneal_fraction: float = 0.8  # share of all steps over which C(t) rises from 0 to C
    seed: int = 0
    device: str = "auto"  # "auto" (CUDA when present), "cpu" or "cuda"
    checkpoint_every: int = 10  # epochs between resume checkpoints (0: none)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("train.device is 'cuda' but no CUDA device is available")
    return torch.device(name)


def train_vae(
    x_train: np.ndarray,
    cfg: TrainConfig,
    loss_cfg: LossConfig,
    on_epoch: Callable[[dict], None] | None = None,
    resume_path: str | Path | None = None,
) -> tuple[BetaVAE, list[dict]]:
    """Train a BetaVAE on samples `x_train` (N, L) in data units; returns the model (CPU, eval mode) and the
    per-epoch metrics. Raises TrainingError on empty data or a non-finite loss.

    With `resume_path`, a checkpoint (model, optimizer, RNG state, step, history) is written there every
    `cfg.checkpoint_every` epochs, and a run that finds one from the same configs and data continues from it: a
    killed run ends with the same weights as an uninterrupted one. The file is removed when training ends."""
    if len(x_train) < 2 or not np.isfinite(x_train).all():
        raise TrainingError(f"training data must hold >= 2 finite samples, got {x_train.shape}")
    device = pick_device(cfg.device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    mean, std = float(x_train.mean()), float(x_train.std()) or 1.0
    model = BetaVAE(ModelConfig(x_train.shape[1], cfg.latent_dim, tuple(cfg.hidden)), mean, std).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    data = model.standardize(torch.as_tensor(x_train, dtype=torch.float32, device=device))  # (N, L)
    n = len(data)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    anneal_steps = int(cfg.anneal_fraction * cfg.epochs * steps_per_epoch)
    history, step, first_epoch = [], 0, 1
    resume_key = _resume_key(cfg, loss_cfg, x_train)
    if resume_path is not None and Path(resume_path).is_file():
        state = torch.load(resume_path, map_location=device, weights_only=False)
        if state["key"] == resume_key:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            gen.set_state(state["generator"].to(gen.get_state().device))
            history, step, first_epoch = state["history"], state["step"], state["epoch"] + 1
            log.info("%s: resuming from epoch %d (%s)", loss_cfg.name, state["epoch"], resume_path)
        else:
            log.info("%s: %s is from other configs or data; starting afresh", loss_cfg.name, resume_path)
    log.info(
        "training %s on %d samples x %d features, %d epochs, device %s",
        loss_cfg.name,
        n,
        data.shape[1],
        cfg.epochs,
        device,
    )
    for epoch in range(first_epoch, cfg.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n, device=device, generator=gen)
        sums = {
            "loss": torch.zeros((), device=device),
            "recon": torch.zeros((), device=device),
            "kl": torch.zeros(cfg.latent_dim, device=device),
        }
        model.train()
        for start in range(0, n, cfg.batch_size):
            batch = data[perm[start : start + cfg.batch_size]]  # (B, L)
            capacity = capacity_at(step, loss_cfg.capacity_nats, anneal_steps)
            mu, logvar = model.encoder(batch).chunk(2, dim=-1)  # (B, D) each
            x_hat = model.decode_standardized(model.reparameterize(mu, logvar, gen))
            recon = gaussian_recon(x_hat, batch, cfg.recon_sigma)  # (B,)
            kl = kl_per_latent(mu, logvar)  # (B, D)
            loss = vae_loss(recon, kl, loss_cfg, capacity)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            sums["loss"] += loss.detach() * len(batch)
            sums["recon"] += recon.detach().sum()
            sums["kl"] += kl.detach().sum(dim=0)
        seconds = time.perf_counter() - t0
        kl_latent = (sums["kl"] / n).cpu().numpy()
        metrics = {
            "epoch": epoch, "loss": float(sums["loss"]) / n, "recon": float(sums["recon"]) / n,
            "kl": float(kl_latent.sum()), "capacity": capacity, "samples_per_s": n / seconds, "seconds": seconds,
            **{f"kl_{i}": float(v) for i, v in enumerate(kl_latent)},
        }  # fmt: skip
        if not math.isfinite(metrics["loss"]):
            raise TrainingError(f"{loss_cfg.name}: loss became {metrics['loss']} at epoch {epoch}; lower train.lr")
        history.append(metrics)
        log.info(
            "%s epoch %d/%d  loss %.2f  recon %.2f  kl %.2f nats (C %.1f)  %.0f samples/s",
            loss_cfg.name,
            epoch,
            cfg.epochs,
            metrics["loss"],
            metrics["recon"],
            metrics["kl"],
            capacity,
            n / seconds,
        )
        if resume_path is not None and cfg.checkpoint_every and epoch % cfg.checkpoint_every == 0:
            state = {"key": resume_key, "model": model.state_dict(), "optimizer": opt.state_dict(),
                     "generator": gen.get_state(), "step": step, "epoch": epoch, "history": history}  # fmt: skip
            with atomic_path(resume_path) as tmp:
                torch.save(state, tmp)
        if on_epoch is not None:
            on_epoch(metrics)
    if resume_path is not None:
        Path(resume_path).unlink(missing_ok=True)
    return model.cpu().eval(), history


def _resume_key(cfg: TrainConfig, loss_cfg: LossConfig, x_train: np.ndarray) -> str:
    """What a resume checkpoint must match: both configs and the data's bytes."""
    digest = hashlib.md5(np.ascontiguousarray(x_train).tobytes()).hexdigest()
    return json.dumps([asdict(cfg), asdict(loss_cfg), digest], sort_keys=True, default=str)


def save_checkpoint(path: str | Path, model: BetaVAE, cfg: TrainConfig, loss_cfg: LossConfig, history: list[dict]):
    """Model weights with everything needed to rebuild and describe it (configs, normalisation, history)."""
    with atomic_path(path) as tmp:
        torch.save(
            {
                "state_dict": model.state_dict(),
                "model": model.describe(),
                "train": asdict(cfg),
                "loss": asdict(loss_cfg),
                "history": history,
            },
            tmp,
        )
    return Path(path)


def load_checkpoint(path: str | Path) -> tuple[BetaVAE, dict]:
    """The model (CPU, eval mode) saved by save_checkpoint and the whole checkpoint dict."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    desc = dict(ckpt["model"])
    mean, std = desc.pop("x_mean"), desc.pop("x_std")
    model = BetaVAE(ModelConfig(**{**desc, "hidden": tuple(desc["hidden"])}), mean, std)
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt
