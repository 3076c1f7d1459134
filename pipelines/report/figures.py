"""The report's figures, each a PNG: what a sweep looks like at a glance.

- `recon_vs_disentanglement`: one point per beta/C run, reconstruction error against MIG and DCI disentanglement;
- `kl_heatmap`: KL per latent (sorted) for every run, so collapsed and active units show as columns;
- `factor_correlations`: |Spearman correlation| of each latent with each known or proxy factor (which latent
  tracks heart rate, QRS width, volatility ...);
- `prior_samples`: beats or windows decoded from z ~ N(0, I) beside real ones;
- `latent_drift`: each active latent's codes on the data as now ingested against the champion's training split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from pipelines.storage import write_figure


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def recon_vs_disentanglement(frame: pd.DataFrame, path: str | Path, champions: dict[str, str]) -> Path:
    """Scatter per dataset of `recon_rmse` (x) against `mig` and, where present, `dci_disentanglement` (y)."""
    plt = _plt()
    datasets = sorted(frame["dataset"].unique())
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.5 * len(datasets), 4), squeeze=False, layout="constrained")
    for ax, dataset in zip(axes[0], datasets, strict=True):
        group = frame[frame["dataset"] == dataset]
        for metric, marker in (("mig", "o"), ("dci_disentanglement", "s")):
            if metric in group and group[metric].notna().any():
                ax.scatter(group["recon_rmse"], group[metric], marker=marker, s=50, label=metric.replace("_", " "))
        for _, row in group.iterrows():
            star = " ★" if champions.get(dataset) == row["config"] else ""
            ax.annotate(row["config"] + star, (row["recon_rmse"], row["mig"]), fontsize=8, xytext=(4, 4),
                        textcoords="offset points")  # fmt: skip
        ax.set_xlabel(f"test reconstruction RMSE ({group['value_label'].iloc[0]})")
        ax.set_ylabel("disentanglement score")
        ax.set_title(f"{dataset}: reconstruction vs disentanglement")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return write_figure(path, fig)


def kl_heatmap(frame: pd.DataFrame, path: str | Path) -> Path:
    """Rows: runs (dataset · config); columns: latents sorted by KL within each run; colour: KL in nats."""
    plt = _plt()
    frame = frame.sort_values(["dataset", "config"])
    kl = np.array([sorted(v, reverse=True) for v in frame["kl_per_latent"]])
    labels = [f"{d} · {c}" for d, c in zip(frame["dataset"], frame["config"], strict=True)]
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * kl.shape[1], 0.8 + 0.35 * len(labels)), layout="constrained")
    image = ax.imshow(kl, cmap="viridis", aspect="auto")
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xticks(range(kl.shape[1]), [str(i + 1) for i in range(kl.shape[1])], fontsize=8)
    ax.set_xlabel("latent, by KL rank")
    for (i, j), value in np.ndenumerate(kl):
        ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=6, color="w" if value < kl.max() / 2 else "k")
    fig.colorbar(image, ax=ax, label="KL (nats)")
    ax.set_title("KL per latent for every run")
    return write_figure(path, fig)


def correlation_matrix(mu: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """|Spearman correlation| (D, F) of each latent mean (N, D) with each factor (N, F); NaN for constant ones."""
    out = np.full((mu.shape[1], factors.shape[1]), np.nan)
    for j in range(factors.shape[1]):
        ok = np.isfinite(factors[:, j])
        if ok.sum() < 3 or np.ptp(factors[ok, j]) == 0:
            continue
        for i in range(mu.shape[1]):
            if np.ptp(mu[ok, i]) > 0:
                out[i, j] = abs(spearmanr(mu[ok, i], factors[ok, j]).statistic)
    return out


def factor_correlations(corr: np.ndarray, factor_names: list[str], kl: np.ndarray, path, title: str) -> Path:
    """Heatmap of `correlation_matrix` with latents ordered by KL (rows) and factors as columns."""
    plt = _plt()
    order = np.argsort(kl)[::-1]
    fig, ax = plt.subplots(figsize=(1.5 + 0.9 * len(factor_names), 0.8 + 0.4 * len(order)), layout="constrained")
    image = ax.imshow(corr[order], cmap="magma", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(factor_names)), factor_names, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(order)), [f"z{i} ({kl[i]:.1f})" for i in order], fontsize=8)
    for (i, j), value in np.ndenumerate(corr[order]):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="w" if value < 0.5 else "k")
    fig.colorbar(image, ax=ax, label="|Spearman ρ|")
    ax.set_ylabel("latent (KL nats), by KL")
    ax.set_title(title, fontsize=10)
    return write_figure(path, fig)


def prior_samples(generated: np.ndarray, real: np.ndarray, axis: np.ndarray, axis_label: str, channels: list[str],
                  path, title: str) -> Path:  # fmt: skip
    """Samples decoded from the prior (left) beside real test samples (right), overlaid; one row per channel."""
    plt = _plt()
    n_ch = len(channels)
    fig, axes = plt.subplots(n_ch, 2, figsize=(10, 3.2 * n_ch), sharey="row", squeeze=False, layout="constrained")
    for col, (samples, name) in enumerate(((generated, "decoded from z ~ N(0, I)"), (real, "real (test split)"))):
        for c, ax in enumerate(axes[:, col]):
            for sample in samples.reshape(len(samples), n_ch, -1)[:, c]:
                ax.plot(axis, sample, lw=0.9, alpha=0.8)
            ax.grid(alpha=0.3)
            axes[c, 0].set_ylabel(channels[c])
        axes[0, col].set_title(name, fontsize=9)
        axes[-1, col].set_xlabel(axis_label)
    fig.suptitle(title, fontsize=10)
    return write_figure(path, fig)


def latent_drift(reference: np.ndarray, current: np.ndarray, table: pd.DataFrame, path, title: str) -> Path:
    """Histograms of each active latent's codes, the reference (the champion's training split) against the data
    as now ingested, titled with the KS statistic and PSI; a latent that moved is titled in red."""
    plt = _plt()
    shown = table[table.active] if table.active.any() else table
    cols = min(5, len(shown))
    rows = -(-len(shown) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False, layout="constrained")
    for ax, (_, row) in zip(axes.flat, shown.iterrows(), strict=False):
        i = int(row["latent"][1:])
        edges = np.histogram_bin_edges(np.concatenate([reference[:, i], current[:, i]]), bins=30)
        ax.hist(reference[:, i], edges, density=True, alpha=0.5, label="training split")
        ax.hist(current[:, i], edges, density=True, alpha=0.5, label="now")
        ax.set_title(f"{row['latent']}: KS {row['ks']:.2f}, PSI {row['psi']:.2f}", fontsize=9,
                     color="tab:red" if row["moved"] else "black")  # fmt: skip
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(shown) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return write_figure(path, fig)
