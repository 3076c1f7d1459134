"""The metrics table of one trained model on its test split: reconstruction error in data units, KL per latent,
active units and MIG against the data set's factors (generative factors for synthetic data, proxies for real)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pipelines.dataset import TrainingSet
from pipelines.evaluation.mig import mig
from pipelines.vae.model import BetaVAE


@dataclass(frozen=True)
class EvalConfig:
    num_bins: int = 20  # equal-width bins for codes and continuous factors (disentanglement_lib)
    active_kl_nats: float = 0.01  # a latent with mean KL above this is "active"
    traversal_limit: float = 3.0  # latents swept over [-limit, limit]
    traversal_steps: int = 7
    traversal_index: int = 0  # which test sample the traversals start from


@torch.no_grad()
def encode(model: BetaVAE, x: np.ndarray, batch: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances (N, D) of samples `x` (N, L)."""
    mus, logvars = [], []
    for start in range(0, len(x), batch):
        mu, logvar = model.encode(torch.as_tensor(x[start : start + batch], dtype=torch.float32))
        mus.append(mu.numpy())
        logvars.append(logvar.numpy())
    return np.concatenate(mus), np.concatenate(logvars)


@torch.no_grad()
def reconstruct(model: BetaVAE, x: np.ndarray) -> np.ndarray:
    return model(torch.as_tensor(x, dtype=torch.float32)).numpy()


def summarize_model(model: BetaVAE, data: TrainingSet, cfg: EvalConfig) -> dict:
    """Metrics of `model` on `data` (normally the test split), ready to log: plain floats and lists."""
    mu, logvar = encode(model, data.x)
    kl = (0.5 * (mu**2 + np.exp(logvar) - 1.0 - logvar)).mean(axis=0)  # (D,) nats, averaged over samples
    err = reconstruct(model, data.x) - data.x
    out = {
        "n_samples": len(data),
        "recon_rmse": float(np.sqrt(np.mean(err**2))),  # in data units (mV for beats)
        "recon_sse_per_sample": float(np.mean(np.sum(err**2, axis=1))),
        "kl_total": float(kl.sum()),
        "kl_per_latent": [float(v) for v in kl],
        "active_units": int((kl > cfg.active_kl_nats).sum()),
        "factor_names": list(data.factor_names),
        "factor_kind": data.factor_kind,
    }
    usable = np.isfinite(data.factors).all(axis=1)
    if usable.sum() >= 2:
        out |= mig(mu[usable].T, data.factors[usable].T, cfg.num_bins)
    return out
