"""The evaluation stages of a trained partition: latent traversals, and the disentanglement and downstream
metrics with their figures; each also logged to the partition's MLflow run."""

from __future__ import annotations

import json

import numpy as np

from pipelines.config import load_params
from pipelines.dataset import TrainingSet
from pipelines.errors import DataValidationError
from pipelines.stages.common import StageResult
from pipelines.stages.training import run_info
from pipelines.storage import write_text
from pipelines.tracking import Tracker
from pipelines.workspace import Workspace


def trained(ws: Workspace, dataset: str, config: str):
    """The partition's trained model and its whole training set (raises when the test split is empty)."""
    from pipelines.vae.checkpoints import load_checkpoint

    model, _ = load_checkpoint(ws.model_dir(dataset, config) / "model.pt")
    data = TrainingSet.load(ws.training_set(dataset))
    if not (data.split == "test").any():
        raise DataValidationError(f"{dataset}: the test split is empty; cannot evaluate {config}")
    return model, data


def traversals(ws: Workspace, dataset: str, config: str, tracker: Tracker) -> StageResult:
    from pipelines.evaluation.summary import EvalConfig, encode, mean_kl_per_latent
    from pipelines.evaluation.traversals import plot_traversals, traverse

    cfg = load_params(ws.params_path, "evaluation", EvalConfig)
    model, data = trained(ws, dataset, config)
    test = data.part("test")
    x0 = test.x[min(cfg.traversal_index, len(test) - 1)]
    kl = mean_kl_per_latent(*encode(model, test.x))
    values, decoded = traverse(model, x0, cfg.traversal_limit, cfg.traversal_steps)
    out = ws.eval_dir(dataset, config) / "traversals.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    plot_traversals(
        out,
        x0,
        values,
        decoded,
        kl,
        test.axis,
        test.axis_label,
        test.channel_names,
        title=f"{dataset} · {config}: each latent swept {-cfg.traversal_limit:g}..{cfg.traversal_limit:g}",
    )
    tracker.log_artifact(run_info(ws, dataset, config)["run_id"], out)
    return StageResult(out, {"latents": len(kl), "steps": len(values)})


def metrics(ws: Workspace, dataset: str, config: str, tracker: Tracker) -> StageResult:
    """Disentanglement and downstream metrics of one partition (metrics.json, MLflow metrics), and its figures:
    latent-vs-factor correlations and samples from the prior beside real ones (PNGs, MLflow artifacts)."""
    from pipelines.evaluation.summary import EvalConfig, encode, probe_scores, sample_prior, summarize_model
    from pipelines.report.figures import correlation_matrix, factor_correlations, prior_samples

    cfg = load_params(ws.params_path, "evaluation", EvalConfig)
    model, data = trained(ws, dataset, config)
    summary = summarize_model(model, data, cfg) | probe_scores(model, data)
    usable = np.isfinite(data.factors).all(axis=1)
    corr = correlation_matrix(encode(model, data.x[usable])[0], data.factors[usable])
    summary["factor_correlation"] = [[None if np.isnan(v) else float(v) for v in row] for row in corr]
    out_dir = ws.eval_dir(dataset, config)
    kl = np.array(summary["kl_per_latent"])
    figures = [
        factor_correlations(corr, data.factor_names, kl, out_dir / "factor_correlations.png",
                            f"{dataset} · {config}: latents vs {data.factor_kind} factors"),
        prior_samples(sample_prior(model, 8, cfg.seed), data.part("test").x[:8], data.axis, data.axis_label,
                      data.channel_names, out_dir / "prior_samples.png", f"{dataset} · {config}: generation"),
    ]  # fmt: skip
    out = write_text(out_dir / "metrics.json", json.dumps(summary, indent=2) + "\n")
    run_id = run_info(ws, dataset, config)["run_id"]
    scalars = {f"test_{k}": v for k, v in summary.items() if isinstance(v, int | float) and np.isfinite(v)}
    tracker.log_metrics(run_id, scalars)
    tracker.log_metrics(run_id, {f"test_kl_{i}": v for i, v in enumerate(summary["kl_per_latent"])})
    tracker.log_json(run_id, summary, "metrics.json")
    for figure in figures:
        tracker.log_artifact(run_id, figure)
    keys = ("recon_rmse", "kl_total", "active_units", "mig", "probe_mi_auroc", "probe_next_vol_r2")
    counts = {k: summary[k] for k in keys if k in summary}
    return StageResult(out, counts, extra={**summary, "figures": figures})
