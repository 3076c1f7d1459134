"""The sweep report: one self-contained HTML page (images embedded) with, per dataset, a table comparing every
beta/C run and the traversal grid of each, plus the same table as CSV."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.storage import write_csv, write_text

TABLE_COLUMNS = {
    "config": "config", "beta": "β", "capacity_nats": "C (nats)", "gamma": "γ", "epochs": "epochs",
    "recon_rmse": "recon RMSE", "kl_total": "KL (nats)", "active_units": "active units", "mig": "MIG",
    "model_version": "registered version", "run_id": "MLflow run",
}  # fmt: skip

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
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
        return f"{value:.4g}"
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


def build_report(
    rows: list[dict], out_dir: str | Path, champions: dict[str, dict], title: str = "β-VAE sweep report"
) -> Path:
    """Write `index.html` and `sweep.csv` to `out_dir` from one row per (dataset, config) partition.

    Each row holds the TABLE_COLUMNS keys, `dataset`, `factor_kind` and `traversal_png` (a path); the champion
    row of each dataset (from pick_champions) is highlighted.
    """
    out_dir = Path(out_dir)
    frame = pd.DataFrame(rows).sort_values(["dataset", "config"]).reset_index(drop=True)
    write_csv(out_dir / "sweep.csv", frame.drop(columns=["traversal_png"]))
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
    ]
    for dataset, group in frame.groupby("dataset", sort=True):
        best = champions.get(dataset, {}).get("config")
        kind = group["factor_kind"].iloc[0]
        parts.append(
            f"<h2>{html.escape(dataset)}</h2><p class='note'>Reconstruction and KL on the held-out "
            f"test split; MIG on all samples against the {html.escape(kind)} factors. "
            "Highlighted: highest MIG (champion).</p>"
        )
        header = "".join(f"<th>{html.escape(label)}</th>" for label in TABLE_COLUMNS.values())
        body = []
        for _, row in group.iterrows():
            cells = "".join(f"<td>{_fmt(row.get(col, ''))}</td>" for col in TABLE_COLUMNS)
            body.append(f"<tr class='{'best' if row['config'] == best else ''}'>{cells}</tr>")
        parts.append(f"<table><tr>{header}</tr>{''.join(body)}</table>")
        for _, row in group.iterrows():
            parts.append(f"<h3>{html.escape(dataset)} · {html.escape(row['config'])}</h3>{_img(row['traversal_png'])}")
    parts.append("</body></html>")
    return write_text(out_dir / "index.html", "\n".join(parts))
