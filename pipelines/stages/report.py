"""The sweep report over every evaluated partition (HTML page, figures, the MLflow `champion` alias per dataset),
with PCA and FastICA baselines scored on the same points, and each champion reused zero-shot on data it was never
trained on. Scores are medians over a partition's seeds, with their interquartile range."""

from __future__ import annotations

import json
import logging

import pandas as pd

from pipelines.config import load_params
from pipelines.dataset import TrainingSet
from pipelines.errors import DataValidationError
from pipelines.stages.common import StageResult
from pipelines.stages.datasets import DATASET_SPECS, DATASETS
from pipelines.stages.evaluation import trained
from pipelines.stages.training import run_info, seed_run, sweep
from pipelines.storage import write_text
from pipelines.tracking import Tracker
from pipelines.vae.regularizers import SETTINGS
from pipelines.workspace import Workspace

log = logging.getLogger(__name__)


SCORES = ("recon_rmse", "recon_rmse_uv", "kl_total", "active_units", "mig", "sap", "dci_disentanglement",
          "dci_completeness", "dci_informativeness_test", "modularity", "explicitness_test",
          "gaussian_total_correlation", "probe_mi_auroc", "probe_next_vol_r2",
          "probe_next_vol_r2_persistence", "udr", "beta_vae_eval", "factor_vae_eval")  # fmt: skip


def report(ws: Workspace, tracker: Tracker) -> StageResult:
    """The sweep report over every partition with metrics; sets the `champion` alias per dataset (the highest
    median MIG against known factors, or median UDR on real data) to its representative seed's model version."""
    from pipelines.evaluation.baselines import linear_baselines
    from pipelines.evaluation.summary import EvalConfig
    from pipelines.vae.trainer import TrainConfig

    epochs = load_params(ws.params_path, "train", TrainConfig).epochs
    eval_cfg = load_params(ws.params_path, "evaluation", EvalConfig)
    rows, baselines = [], []
    for dataset in DATASETS:
        value_label = None  # the training set's units, read once per dataset that has metrics
        for cfg in sweep(ws):
            metrics_file = ws.eval_dir(dataset, cfg.name) / "metrics.json"
            if not metrics_file.is_file():
                log.warning("report: %s/%s has no metrics yet; left out", dataset, cfg.name)
                continue
            m = json.loads(metrics_file.read_text())
            representative = seed_run(run_info(ws, dataset, cfg.name), m["representative_seed"])
            if value_label is None:
                data = TrainingSet.load(ws.training_set(dataset))
                value_label = data.value_label
                for name, scores in linear_baselines(data, eval_cfg, len(m["kl_per_latent"])).items():
                    own = {k: scores.get(k, float("nan")) for k in SCORES}
                    baselines.append({"dataset": dataset, "config": name, "kind": "baseline", **own, "seeds": 1})
            rows.append(
                {
                    "dataset": dataset,
                    "config": cfg.name,
                    "kind": cfg.kind,
                    **{k: getattr(cfg, k) if k in cfg.settings else float("nan") for k in SETTINGS},
                    "epochs": epochs,
                    **{k: m.get(k, float("nan")) for k in SCORES},
                    **{f"{k}_iqr": m["iqr"][k] for k in SCORES if k in m["iqr"]},
                    "seeds": len(m["seeds"]),
                    "headline": m["headline"],
                    "kl_per_latent": m["kl_per_latent"],
                    "factor_kind": m["factor_kind"],
                    "value_label": value_label,
                    "seed": m["representative_seed"],
                    "model_version": representative["model_version"],
                    "run_id": representative["run_id"],
                    "traversal_png": ws.eval_dir(dataset, cfg.name) / "traversals.png",
                    "correlations_png": ws.eval_dir(dataset, cfg.name) / "factor_correlations.png",
                    "prior_png": ws.eval_dir(dataset, cfg.name) / "prior_samples.png",
                }
            )
    if not rows:
        raise DataValidationError("report: no partition has metrics; materialize the models first")
    from pipelines.report.figures import kl_heatmap, recon_vs_disentanglement
    from pipelines.report.html import build_report, pick_champions

    champions = pick_champions(rows)
    for dataset, row in champions.items():
        tracker.set_alias(dataset, "champion", row["model_version"])
    champion_configs = {d: r["config"] for d, r in champions.items()}
    frame = pd.DataFrame(rows)
    figures = {
        "scatter": recon_vs_disentanglement(frame, ws.report_dir / "recon_vs_disentanglement.png", champion_configs),
        "kl_heatmap": kl_heatmap(frame, ws.report_dir / "kl_heatmap.png"),
    }  # fmt: skip
    transfer = _transfer(ws, champions)
    out = build_report(rows, ws.report_dir, champions, figures, transfer, baselines=baselines)
    for parent in {tracker.parent_of(r["run_id"]) for r in rows} - {None}:
        for path in (out, *figures.values()):
            tracker.log_artifact(parent, path)
    extra = {"champions": champion_configs, "figures": figures, "transfer": transfer}
    return StageResult(out, {"runs": len(rows)}, extra=extra)


def _transfer(ws: Workspace, champions: dict[str, dict]) -> dict[str, dict]:
    """Each champion applied zero-shot to the `transfer` section's data (skipped when not configured or absent);
    written to report/transfer.json."""
    from pipelines.evaluation.transfer import TransferConfig, shift_report

    cfg = load_params(ws.params_path, "transfer", TransferConfig)
    out = {}
    for dataset, row in champions.items():
        spec = DATASET_SPECS[dataset]
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
