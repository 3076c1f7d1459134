"""Latent traversals: each latent swept over [-limit, limit] with the others held at the posterior mean of one
input, decoded, and drawn over that input; one panel per latent, ordered by KL (most informative first)."""

from __future__ import annotations

import textwrap

import numpy as np
import torch

from pipelines.storage import write_figure
from pipelines.vae.model import BetaVAE


@torch.no_grad()
def traverse(model: BetaVAE, x0: np.ndarray, limit: float = 3.0, steps: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Sweep values (S,) and decoded samples (D, S, L) of every latent swept from the posterior mean of x0 (L,)."""
    mu, _ = model.encode(torch.as_tensor(x0[None], dtype=torch.float32))  # (1, D)
    values = torch.linspace(-limit, limit, steps)
    d = mu.shape[1]
    z = mu.repeat(d * steps, 1).view(d, steps, d)  # (D, S, D)
    z[torch.arange(d), :, torch.arange(d)] = values  # latent i of row i takes the sweep values
    decoded = model.decode(z.view(d * steps, d)).view(d, steps, -1)
    return values.numpy(), decoded.numpy()


def plot_traversals(
    path, x0: np.ndarray, values: np.ndarray, decoded: np.ndarray, kl: np.ndarray, axis: np.ndarray,
    axis_label: str, channels: list[str], title: str,
) -> None:  # fmt: skip
    """Grid PNG at `path`: one panel per latent (ordered by KL) and channel, the sweep coloured, the input in
    black; a sample of several channels (laid end to end, each len(axis) long) gets one row of panels each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(kl)[::-1]
    n_ch, cols = len(channels), 5
    rows = int(np.ceil(len(order) / cols))
    height = (2.4 if n_ch == 1 else 1.8) * rows * n_ch
    fig, axes = plt.subplots(
        rows * n_ch, cols, figsize=(3.2 * cols, height), sharex=True, sharey="row" if n_ch > 1 else True,
        squeeze=False, gridspec_kw={"hspace": 0.45, "wspace": 0.2},
    )  # fmt: skip
    # margins in inches, fixed: matplotlib's constrained layout took 4 of a traversal stage's ~9 s
    fig.subplots_adjust(left=1.2 / fig.get_figwidth(), right=0.9, bottom=0.45 / height, top=1 - 0.65 / height)
    cmap = plt.get_cmap("coolwarm")
    x0, decoded = x0.reshape(n_ch, -1), decoded.reshape(*decoded.shape[:2], n_ch, -1)
    for k, i in enumerate(order):
        for c in range(n_ch):
            ax = axes[(k // cols) * n_ch + c, k % cols]
            for s in range(len(values)):
                ax.plot(axis, decoded[i, s, c], color=cmap(s / max(len(values) - 1, 1)), lw=1.0)
            ax.plot(axis, x0[c], color="black", lw=1.4, ls="--")
            if c == 0:
                ax.set_title(f"z{i}  KL {kl[i]:.2f} nats", fontsize=9)
    for k in range(len(order), rows * cols):
        for c in range(n_ch):
            axes[(k // cols) * n_ch + c, k % cols].axis("off")
    for ax in axes[-1]:
        ax.set_xlabel(axis_label, fontsize=8)
    for r in range(rows * n_ch):
        axes[r, 0].set_ylabel(textwrap.fill(channels[r % n_ch], 24), fontsize=8)  # long units fit a short row
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(values[0], values[-1]))
    fig.colorbar(sm, cax=fig.add_axes((0.92, 0.15, 0.01, 0.7)), label="latent value (input: black dashes)")
    fig.suptitle(title)
    write_figure(path, fig)
