"""The sweep report over every evaluated partition (HTML page, figures, the MLflow `champion` alias per dataset),
with PCA and FastICA baselines scored on the same points, and each champion reused zero-shot on data it was never
trained on. Scores are medians over a partition's seeds, with their interquartile range."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from pipelines.dataset import TrainingSet
from pipelines.errors import DataValidationError
from pipelines.evaluation.scores import SCORES
from pipelines.evaluation.selection import pick_champions
from pipelines.stages.common import StageResult
from pipelines.stages.datasets import DATASET_SPECS, DATASETS
from pipelines.stages.evaluation import trained
from pipelines.stages.trained import run_info, seed_run
from pipelines.storage import write_text
from pipelines.tracking import Tracker
from pipelines.vae.regularizers import SETTINGS, LossConfig
from pipelines.workspace import Workspace

log = logging.getLogger(__name__)


class ReportFigures(NamedTuple):
    """The sweep's figures (PNG paths), shown on the report and in the asset's metadata."""

    scatter: Path  # reconstruction error against disentanglement, one point per config
    kl_heatmap: Path  # KL per latent of every config


@dataclass
class ReportResult(StageResult):
    """The HTML report (`output`), the champion config per dataset, the sweep's figures and the zero-shot reuse."""

    champions: dict[str, str] = field(default_factory=dict)
    figures: ReportFigures | None = None
    transfer: dict[str, dict] = field(default_factory=dict)
    explorers: dict[str, Path] = field(default_factory=dict)  # the latent explorer page of each champion


def report(ws: Workspace, tracker: Tracker) -> ReportResult:
    """The sweep report over every partition with metrics; sets the `champion` alias per dataset (the highest
    median MIG against known factors, or median UDR on real data) to its representative seed's model version."""
    from pipelines.report.figures import kl_heatmap, recon_vs_disentanglement
    from pipelines.report.html import build_report

    rows, baselines, factor_corr = _rows(ws)
    if not rows:
        raise DataValidationError("report: no partition has metrics; materialize the models first")
    champions = pick_champions(rows)
    for dataset, row in champions.items():
        tracker.set_alias(dataset, "champion", row["model_version"])
    champion_configs = {d: r["config"] for d, r in champions.items()}
    frame = pd.DataFrame(rows)
    figures = ReportFigures(
        recon_vs_disentanglement(frame, ws.report_dir / "recon_vs_disentanglement.png", champion_configs),
        kl_heatmap(frame, ws.report_dir / "kl_heatmap.png"),
    )
    transfer = _transfer(ws, champions)
    explorers = {dataset: _explorer(ws, tracker, dataset, row) for dataset, row in champions.items()}
    out = build_report(rows, ws.report_dir, champions, figures._asdict(), transfer, baselines=baselines,
                       factor_corr=factor_corr, explorers=explorers)  # fmt: skip
    for parent in {tracker.parent_of(r["run_id"]) for r in rows} - {None}:
        for path in (out, *figures):
            tracker.log_artifact(parent, path)
    return ReportResult(out, {"runs": len(rows)}, champions=champion_configs, figures=figures, transfer=transfer,
                        explorers=explorers)  # fmt: skip


def _rows(ws: Workspace) -> tuple[list[dict], list[dict], dict[str, pd.DataFrame]]:
    """One row per partition with metrics (scores, their IQR, config settings, the representative seed's run and
    figures), the PCA and FastICA baselines of each dataset that has one, scored on the same points, and the
    Spearman correlations of the expert factors of each annotated dataset (its test split)."""
    from pipelines.evaluation.baselines import linear_baselines

    params = ws.params  # one read of the file for the whole report
    rows, baselines, factor_corr = [], [], {}
    for dataset in DATASETS:
        if not ws.training_set(dataset).is_file():  # a dataset without a source (LUDB) or not built: no warnings
            continue
        value_label = None  # the training set's units, read once per dataset that has metrics
        for cfg in params.sweep:
            metrics_file = ws.eval_dir(dataset, cfg.name) / "metrics.json"
            if not metrics_file.is_file():
                log.warning("report: %s/%s has no metrics yet; left out", dataset, cfg.name)
                continue
            m = json.loads(metrics_file.read_text())
            if value_label is None:
                data = TrainingSet.load(ws.training_set(dataset))
                value_label = data.value_label
                if data.factor_kind == "expert":
                    test = data.part("test")
                    factors = pd.DataFrame(test.factors, columns=test.factor_names).drop(
                        columns="lead", errors="ignore"
                    )
                    factor_corr[dataset] = factors.corr("spearman")  # (the lead is a category: no rank order)
                for name, scores in linear_baselines(data, params.evaluation, len(m["kl_per_latent"])).items():
                    own = {k: v for k, v in scores.items() if k.startswith("mig__") or k.endswith("_auroc_se")}
                    own |= {k: scores.get(k, float("nan")) for k in SCORES}
                    baselines.append({"dataset": dataset, "config": name, "kind": "baseline", **own, "seeds": 1})
            rows.append(_row(ws, dataset, cfg, m, value_label, params.train.epochs))
    return rows, baselines, factor_corr


def _row(ws: Workspace, dataset: str, cfg: LossConfig, m: dict, value_label: str, epochs: int) -> dict:
    """A partition's row of the report: its config's settings and its metrics.json."""
    representative = seed_run(run_info(ws, dataset, cfg.name), m["representative_seed"])
    eval_dir = ws.eval_dir(dataset, cfg.name)
    return {
        "dataset": dataset,
        "config": cfg.name,
        "kind": cfg.kind,
        **{k: getattr(cfg, k) if k in cfg.settings else float("nan") for k in SETTINGS},
        "epochs": epochs,
        **{k: m.get(k, float("nan")) for k in SCORES},
        **{f"{k}_iqr": m["iqr"][k] for k in SCORES if k in m["iqr"]},
        **{k: v for k, v in m.items() if k.startswith("mig__") or k.endswith("_auroc_se")},  # per factor, SEs
        "representative": _representative(m),
        "seeds": len(m["seeds"]),
        "headline": m["headline"],
        "kl_per_latent": m["kl_per_latent"],
        "factor_kind": m["factor_kind"],
        "value_label": value_label,
        "seed": m["representative_seed"],
        "model_version": representative["model_version"],
        "run_id": representative["run_id"],
        "traversal_png": eval_dir / "traversals.png",
        "correlations_png": eval_dir / "factor_correlations.png",
        "prior_png": eval_dir / "prior_samples.png",
    }


def _representative(m: dict) -> dict:
    """What the report says of the representative seed beyond its scores: the latent with the most information
    about each factor, its latent-factor correlations, the latent that tells each diagnosis best."""
    own = next((s for s in m.get("seeds", []) if s.get("seed") == m["representative_seed"]), {})
    keep = {k: v for k, v in own.items() if k == "mig_top_code" or "_top_latent" in k}
    return keep | {"factor_correlation": m.get("factor_correlation"), "factor_names": m.get("factor_names", [])}


def _explorer(ws: Workspace, tracker: Tracker, dataset: str, row: dict) -> Path:
    """The champion's latent explorer page (pipelines.report.explorer), logged to its MLflow run."""
    from pipelines.report.explorer import build_explorer

    model, data = trained(ws, dataset, row["config"], row["seed"])
    metrics = json.loads((ws.eval_dir(dataset, row["config"]) / "metrics.json").read_text())
    title = f"{dataset} · {row['config']} (seed {row['seed']}, version {row['model_version']}): latent explorer"
    out = build_explorer(model, data, metrics["latents"], ws.report_dir / f"explorer-{dataset}.html", title)
    tracker.log_artifact(row["run_id"], out)
    return out


def _transfer(ws: Workspace, champions: dict[str, dict]) -> dict[str, dict]:
    """Each champion applied zero-shot to the `transfer` section's data (skipped when not configured or absent);
    written to report/transfer.json."""
    from pipelines.evaluation.transfer import shift_report

    cfg = ws.params.transfer
    out = {}
    for dataset, row in champions.items():
        spec = DATASET_SPECS[dataset]
        if spec.transfer_target is None:  # a dataset with nothing to reuse its champion on
            continue
        target = spec.transfer_target(cfg)
        where = ws.resolve(target) if target else None
        if where is None or not where.is_dir():
            log.info("transfer: no %s target data (%s); skipped", dataset, target or "not configured")
            continue
        x = spec.transfer_samples(ws, where, cfg)
        model, data = trained(ws, dataset, row["config"], row["seed"])
        out[dataset] = {"config": row["config"], "target": str(target), **shift_report(model, data.part("test"), x)}
    write_text(ws.report_dir / "transfer.json", json.dumps(out, indent=2) + "\n")
    return out
