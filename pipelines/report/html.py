"""The sweep report: one self-contained HTML page (images embedded) with, per dataset, a table of every beta/C
run's metrics, a scatter of reconstruction against disentanglement, a KL-per-latent heatmap, the champion's
latent-vs-factor correlations and prior samples, and the traversal grids (the best runs first); plus the table as
CSV. The champion criterion (highest MIG) is stated on the page, and whether the beta > 1 or capacity runs beat
the plain VAE (beta = 1) is said in words, whichever way it went."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.storage import write_csv, write_text

TABLE_COLUMNS = {
    "config": "config", "kind": "model", "beta": "β", "capacity_nats": "C (nats)", "gamma": "γ",
    "recon_rmse": "recon RMSE", "recon_rmse_uv": "recon RMSE (µV)", "kl_total": "KL (nats)",
    "active_units": "active units", "mig": "MIG",
    "sap": "SAP", "dci_disentanglement": "DCI D", "dci_completeness": "DCI C", "dci_informativeness_test": "DCI I",
    "modularity": "modularity", "explicitness_test": "explicitness", "gaussian_total_correlation": "TC (nats)",
    "probe_mi_auroc": "MI probe AUROC", "probe_next_vol_r2": "next-vol probe R²",
    "probe_next_vol_r2_persistence": "persistence R²", "model_version": "version", "run_id": "MLflow run",
}  # fmt: skip
CHAMPION_CRITERION = "highest MIG against the data set's factors (ties: first config by name)"

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 1em 0; font-size: 85%; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
th { background: #f3f3f3; } td:first-child { text-align: left; }
tr.best { background: #eaf7ea; }
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


def pick_champions(rows: list[dict]) -> dict[str, dict]:
    """Per dataset, the row with the highest MIG (the sweep's champion criterion); ties go to the first config
    in name order. Datasets without a finite MIG have no champion."""
    champions = {}
    for row in sorted(rows, key=lambda r: (r["dataset"], r["config"])):
        best = champions.get(row["dataset"])
        if np.isfinite(row["mig"]) and (best is None or row["mig"] > best["mig"]):
            champions[row["dataset"]] = row
    return champions


def sweep_effect(group: pd.DataFrame) -> str:
    """One sentence: do the beta > 1 or capacity runs reach a higher MIG than the plain VAE (kind beta, beta = 1)?"""
    plain = group[(group["kind"] == "beta") & (group["beta"] == 1.0)]
    others = group.drop(plain.index)
    if plain.empty or others.empty or not np.isfinite(plain["mig"]).any():
        return "The sweep has no plain VAE (β = 1, C = 0) to compare with."
    base, best = plain["mig"].max(), others.loc[others["mig"].idxmax()]
    if best["mig"] > base:
        return (f"As expected, a constrained run beats the plain VAE: {best['config']} reaches MIG "
                f"{best['mig']:.3f} against {base:.3f} for β = 1.")  # fmt: skip
    return (f"Not as expected: no β > 1 or capacity run beats the plain VAE on MIG (best {best['config']} "
            f"{best['mig']:.3f}, β = 1 {base:.3f}).")  # fmt: skip


def build_report(
    rows: list[dict], out_dir: str | Path, champions: dict[str, dict], figures: dict[str, Path] | None = None,
    transfer: dict[str, dict] | None = None, title: str = "β-VAE sweep report",
) -> Path:  # fmt: skip
    """Write `index.html` and `sweep.csv` to `out_dir` from one row per (dataset, config) partition.

    Each row holds TABLE_COLUMNS keys (those missing are left out), `dataset`, `factor_kind`, `traversal_png`
    and optionally `correlations_png` and `prior_png` (paths); `figures` maps "scatter" and "kl_heatmap" to
    sweep-wide PNGs. The champion row of each dataset (from pick_champions) is highlighted and shown first.
    """
    out_dir = Path(out_dir)
    figures = figures or {}
    frame = pd.DataFrame(rows).sort_values(["dataset", "config"]).reset_index(drop=True)
    paths = [c for c in frame.columns if c.endswith("_png")]
    write_csv(out_dir / "sweep.csv", frame.drop(columns=[*paths, "kl_per_latent"], errors="ignore"))
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p class='note'>Champion per dataset: {html.escape(CHAMPION_CRITERION)}; it holds the MLflow registry "
        "alias <code>champion</code>.</p>"
    ]
    for key, label in (("scatter", "Reconstruction vs disentanglement"), ("kl_heatmap", "KL per latent")):
        if key in figures:
            parts.append(f"<h2>{label}</h2>{_img(figures[key])}")
    for dataset, group in frame.groupby("dataset", sort=True):
        best = champions.get(dataset, {}).get("config")
        kind = group["factor_kind"].iloc[0]
        columns = [c for c in TABLE_COLUMNS if c in group and group[c].notna().any()]
        epochs = f"{int(group['epochs'].iloc[0])} epochs; " if "epochs" in group else ""
        parts.append(
            f"<h2>{html.escape(dataset)}</h2><p class='note'>{epochs}reconstruction, KL and probes on the held-out "
            f"test split; disentanglement metrics on all samples against the {html.escape(kind)} factors. "
            f"Highlighted: the champion.</p><p>{html.escape(sweep_effect(group))}</p>"
        )
        header = "".join(f"<th>{html.escape(TABLE_COLUMNS[c])}</th>" for c in columns)
        body = []
        for _, row in group.iterrows():
            shown = {**row, "run_id": str(row["run_id"])[:8]}  # settings a model does not read are NaN: blank
            cells = "".join(f"<td>{_fmt(shown.get(col, ''))}</td>" for col in columns)
            body.append(f"<tr class='{'best' if row['config'] == best else ''}'>{cells}</tr>")
        parts.append(f"<div class='scroll'><table><tr>{header}</tr>{''.join(body)}</table></div>")
        ranked = group.sort_values("mig", ascending=False, na_position="last")
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
    if transfer:
        parts.append(_transfer_section(transfer))
    parts.append("</body></html>")
    return write_text(out_dir / "index.html", "\n".join(parts))


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
