"""Checkpoints: the resume state a killed training continues from, and the saved model of a finished one.

Both load with `weights_only=True` (tensors and plain data: a tampered file cannot run code)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from pipelines.errors import TrainingError
from pipelines.storage import atomic_path
from pipelines.vae.model import BetaVAE, ModelConfig
from pipelines.vae.regularizers import LossConfig

log = logging.getLogger(__name__)


def read_resume(path: str | Path, device: torch.device) -> dict | None:
    """The resume checkpoint at `path`, or None when there is none. An unreadable one (truncated, corrupt) is
    moved aside to `<path>.corrupt` with a warning and training starts afresh: it cannot be continued from, and
    it is kept for a look rather than deleted."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)  # tensors and plain data: no code runs
        if not isinstance(state, dict) or not {"key", "model", "optimizer", "generators"} <= state.keys():
            raise ValueError("not a resume checkpoint")
        return state
    except Exception as e:
        aside = path.with_name(path.name + ".corrupt")
        os.replace(path, aside)
        log.warning("%s is unreadable (%s: %s); moved to %s, training starts afresh", path, type(e).__name__,
                    str(e)[:200], aside)  # fmt: skip
        return None


def write_resume(path: str | Path, state: dict) -> None:
    """The resume state (weights, optimizer, RNG streams, step, epoch, histories, `key`), written atomically."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def resume_key(cfg, loss_cfgs: list[LossConfig], x_train: np.ndarray, seeds: list[int]) -> str:
    """What a resume checkpoint must match: the configs, the seeds and the data's bytes."""
    digest = hashlib.md5(np.ascontiguousarray(x_train).tobytes()).hexdigest()
    return json.dumps([asdict(cfg), [asdict(c) for c in loss_cfgs], seeds, digest], sort_keys=True, default=str)


def save_checkpoint(path: str | Path, model: BetaVAE, cfg, loss_cfg: LossConfig, history: list[dict]):
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
    """The model (CPU, eval mode) saved by save_checkpoint and the whole checkpoint dict; TrainingError naming
    the file when it is missing, truncated or not a model checkpoint."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        desc = dict(ckpt["model"])
        mean, std = desc.pop("x_mean"), desc.pop("x_std")
        model = BetaVAE(ModelConfig(**{**desc, "hidden": tuple(desc["hidden"])}), mean, std)
        model.load_state_dict(ckpt["state_dict"])
    except Exception as e:
        raise TrainingError(f"{path}: unreadable model checkpoint ({type(e).__name__}: {str(e)[:200]})") from e
    return model.eval(), ckpt
