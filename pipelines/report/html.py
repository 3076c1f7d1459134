"""The sweep report: one self-contained HTML page (images embedded) with, per dataset, a table of every config's
metrics (median and interquartile range over its seeds) beside the PCA and FastICA baselines, a scatter of
reconstruction against disentanglement, a KL-per-latent heatmap, the champion's latent-vs-factor correlations and
prior samples, and the traversal grids (the best configs first); plus the table as CSV. The champion criterion is
stated on the page, and a verdict says in words whether the best config beats the plain VAE (beta = 1) and the
baselines beyond the spread over seeds, or that nothing disentangles, whichever way it went.

This module only renders: the champions, their criterion and the verdict come from
pipelines.evaluation.selection, the scores' labels from pipelines.evaluation.scores."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.evaluation.scores import SCORE_LABELS
from pipelines.evaluation.selection import CHAMPION_CRITERION, headline_of, sweep_effect
from pipelines.report.real_data import real_data_section
from pipelines.storage import write_csv, write_text

TABLE_COLUMNS = {  # column -> label: the config and its settings, its scores, the seed shown
    "config": "config", "kind": "model", "seeds": "seeds", "beta": "β", "capacity_nats": "C (nats)", "gamma": "γ",
    **SCORE_LABELS,
    "seed": "shown seed", "model_version": "version", "run_id": "MLflow run",
}  # fmt: skip
SWEEP_FIGURES = (("scatter", "Reconstruction vs disentanglement"), ("kl_heatmap", "KL per latent"))

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 1em 0; font-size: 85%; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
th { background: #f3f3f3; } td:first-child { text-align: left; }
tr.best { background: #eaf7ea; } tr.baseline { color: #555; font-style: italic; }
img { max-width: 100%; border: 1px solid #eee; }
.note { color: #666; font-size: 90%; }
"""


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{html.escape(Path(path).name)}" src="data:image/png;base64,{data}">'


def _fmt(value) -> str:
    if isinstance(value, float):
        if not np.isfinite(value):
            return "–"
        return str(int(value)) if value.is_integer() and abs(value) < 1e6 else f"{value:.3g}"
    return html.escape(str(value))


def _cell(row: dict, column: str) -> str:
    """A table cell: the value, and [Q1, Q3] over seeds after it where the row has them."""
    iqr = row.get(f"{column}_iqr")
    if isinstance(iqr, list | tuple | np.ndarray) and iqr[1] > iqr[0]:
        return f"{_fmt(row.get(column))} [{_fmt(float(iqr[0]))}, {_fmt(float(iqr[1]))}]"
    return _fmt(row.get(column, ""))


def build_report(
    rows: list[dict], out_dir: str | Path, champions: dict[str, dict], figures: dict[str, Path] | None = None,
    transfer: dict[str, dict] | None = None, title: str = "β-VAE sweep report", baselines: list[dict] | None = None,
    factor_corr: dict[str, pd.DataFrame] | None = None, explorers: dict[str, Path] | None = None,
) -> Path:  # fmt: skip
    """Write `index.html` and `sweep.csv` to `out_dir` from one row per (dataset, config) partition.

    Each row holds TABLE_COLUMNS keys (those missing are left out), `dataset`, `factor_kind`, `traversal_png`
    and optionally `correlations_png` and `prior_png` (paths); `figures` maps "scatter" and "kl_heatmap" to
    sweep-wide PNGs. A score `k` with a `k_iqr` ([Q1, Q3] over seeds) is shown as "median [Q1, Q3]".
    `baselines` (rows of scores with `dataset` and `config`, e.g. "PCA-10") are listed under each dataset's
    table and enter its verdict. The champion row of each dataset (`champions`, chosen by the policy in
    pipelines.evaluation.selection) is highlighted. A dataset with expert factors (annotated real data) gets the
    section of pipelines.report.real_data, with its factors' correlations from `factor_corr`. `explorers` (the
    champions' latent explorer pages, beside the report) are linked under each dataset's heading.
    """
    out_dir = Path(out_dir)
    frame = pd.DataFrame(rows).sort_values(["dataset", "config"]).reset_index(drop=True)
    base = pd.DataFrame(baselines) if baselines else pd.DataFrame(columns=["dataset", "config", "kind", "mig"])
    paths = [c for c in frame.columns if c.endswith("_png")]
    unlisted = [*paths, "kl_per_latent", "representative"]
    table = pd.concat([frame.drop(columns=unlisted, errors="ignore"), base], ignore_index=True)
    write_csv(out_dir / "sweep.csv", table)
    parts = [_page_head(title), *_sweep_figures(figures or {})]
    for dataset, group in frame.groupby("dataset", sort=True):
        best = champions.get(dataset, {}).get("config")
        own_base = base[base["dataset"] == dataset]
        parts += [_dataset_intro(dataset, group, own_base), _explorer_link((explorers or {}).get(dataset), best),
                  _score_table(group, own_base, best)]  # fmt: skip
        if group["factor_kind"].iloc[0] == "expert":
            parts.append(real_data_section(dataset, group, own_base, best, (factor_corr or {}).get(dataset)))
        parts += _gallery(dataset, group, best)
    if transfer:
        parts.append(_transfer_section(transfer))
    parts.append("</body></html>")
    return write_text(out_dir / "index.html", "\n".join(parts))


def _page_head(title: str) -> str:
    """The page's head, its title and the champion criterion."""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p class='note'>Champion per dataset: {html.escape(CHAMPION_CRITERION)}; it holds the MLflow registry "
        "alias <code>champion</code>.</p>"
    )


def _sweep_figures(figures: dict[str, Path]) -> list[str]:
    """The sweep-wide figures that were drawn, each under its heading."""
    return [f"<h2>{label}</h2>{_img(figures[key])}" for key, label in SWEEP_FIGURES if key in figures]


def _dataset_intro(dataset: str, group: pd.DataFrame, baselines: pd.DataFrame) -> str:
    """A dataset's heading, what its scores are measured on, and the verdict on its sweep."""
    kind = group["factor_kind"].iloc[0]
    epochs = f"{int(group['epochs'].iloc[0])} epochs; " if "epochs" in group else ""
    return (
        f"<h2>{html.escape(dataset)}</h2><p class='note'>{epochs}every score on the held-out test split "
        f"(disentanglement against the {html.escape(kind)} factors), as the median [Q1, Q3] over each "
        "config's seeds; the baselines below the line are fitted on the training split. Highlighted: the "
        f"champion.</p><p><b>{html.escape(sweep_effect(group, baselines))}</b></p>"
    )


def _explorer_link(page: Path | None, best: str | None) -> str:
    if page is None:
        return ""
    return (f"<p><a href='{html.escape(Path(page).name)}'>Open the latent explorer</a> of the champion "
            f"({html.escape(str(best))}): move each latent and watch the decoded sample change.</p>")  # fmt: skip


def _score_table(group: pd.DataFrame, baselines: pd.DataFrame, best: str | None) -> str:
    """A dataset's table: one row per config, then its baselines; only columns some config has a value in."""
    columns = [c for c in TABLE_COLUMNS if c in group and group[c].notna().any()]
    header = "".join(f"<th>{html.escape(TABLE_COLUMNS[c])}</th>" for c in columns)
    body = []
    for _, row in pd.concat([group, baselines], ignore_index=True).iterrows():
        run_id = row.get("run_id")  # baselines have none
        shown = {**row, "run_id": run_id[:8] if isinstance(run_id, str) else ""}
        cells = "".join(f"<td>{_cell(shown, col)}</td>" for col in columns)
        style = "best" if row["config"] == best else "baseline" if row["kind"] == "baseline" else ""
        body.append(f"<tr class='{style}'>{cells}</tr>")
    return f"<div class='scroll'><table><tr>{header}</tr>{''.join(body)}</table></div>"


def _gallery(dataset: str, group: pd.DataFrame, best: str | None) -> list[str]:
    """Each config's traversals, best headline score first (the first two open, the rest folded); the champion
    also shows its latent-vs-factor correlations and prior samples."""
    parts = []
    ranked = group.sort_values(headline_of(group.iloc[0]), ascending=False, na_position="last")
    for rank, (_, row) in enumerate(ranked.iterrows()):
        name = f"{html.escape(dataset)} · {html.escape(row['config'])}" + (
            " (champion)" if row["config"] == best else ""
        )
        images = [row["traversal_png"]]
        if row["config"] == best:
            images += [row[c] for c in ("correlations_png", "prior_png") if isinstance(row.get(c), Path)]
        block = "".join(_img(p) for p in images)
        if rank < 2:
            parts.append(f"<h3>{name}</h3>{block}")
        else:
            parts.append(f"<details><summary>{name}</summary>{block}</details>")
    return parts


def _transfer_section(transfer: dict[str, dict]) -> str:
    """The champions applied zero-shot to data they were not trained on: reconstruction and latent shift."""
    names = ["dataset", "champion", "target data", "samples", "recon RMSE (own test)", "recon RMSE (target)",
             "KL own / target", "mean |latent shift| (active, in own std)"]  # fmt: skip
    header = "<tr>" + "".join(f"<th>{html.escape(n)}</th>" for n in names) + "</tr>"
    body = []
    for dataset, t in sorted(transfer.items()):
        if "recon_rmse_target" not in t:
            continue
        body.append(
            f"<tr><td>{html.escape(dataset)}</td><td>{html.escape(t['config'])}</td><td>{html.escape(t['target'])}</td>"
            f"<td>{t['n_target']}</td><td>{_fmt(t['recon_rmse_source'])}</td><td>{_fmt(t['recon_rmse_target'])}</td>"
            f"<td>{_fmt(t['kl_total_source'])} / {_fmt(t['kl_total_target'])}</td>"
            f"<td>{_fmt(t['mean_abs_shift_active'])}</td></tr>"
        )
    return (
        "<h2>Zero-shot reuse</h2><p class='note'>Each champion applied, untrained, to data from elsewhere: the ECG "
        "champion to MIT-BIH beats cut by the same recipe, the BTC champion to windows of another period.</p>"
        f"<div class='scroll'><table>{header}{''.join(body)}</table></div>"
    )
