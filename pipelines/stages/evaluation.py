"""The evaluation stages of a trained partition: its disentanglement and downstream metrics over every seed with
their figures, and the latent traversals of its representative seed; each also logged to the seeds' MLflow runs.

metrics.json holds, per score, the median over seeds (top level) and the interquartile range (`iqr`), every seed's
own scores (`seeds`), UDR (Duan et al. 2020, which needs no factors: how alike the seeds' latents are) when there
are two or more seeds, and the `representative_seed`: the seed with the median MIG against known (generative)
factors, or with the median UDR on real data (MIG against its proxies with one seed), whose traversals,
correlations and prior samples are drawn."""

from __future__ import annotations

import json

import numpy as np

from pipelines.config import load_params
from pipelines.dataset import TrainingSet
from pipelines.errors import DataValidationError
from pipelines.stages.common import StageResult
from pipelines.stages.training import run_info, seed_run
from pipelines.storage import write_text
from pipelines.tracking import Tracker
from pipelines.workspace import Workspace

HEADLINES = ("mig", "dci_disentanglement", "udr")  # tagged on each registered model version, as test_<name>
UDR_POINTS = 1000  # test samples the seeds' codes are compared on (disentanglement_lib's UDR: 1000)


def trained(ws: Workspace, dataset: str, config: str, seed: int | None = None):
    """One seed's trained model of the partition (default: its representative seed once metrics are in, else its
    first) and the whole training set (raises when the test split is empty)."""
    seed = representative_seed(ws, dataset, config) if seed is None else seed
    return _model(ws, dataset, config, seed), _evaluation_set(ws, dataset, config)


def _model(ws: Workspace, dataset: str, config: str, seed: int):
    from pipelines.vae.checkpoints import load_checkpoint

    return load_checkpoint(ws.checkpoint(dataset, config, seed))[0]


def _evaluation_set(ws: Workspace, dataset: str, config: str) -> TrainingSet:
    """The dataset's whole training set; raises when its test split is empty."""
    data = TrainingSet.load(ws.training_set(dataset))
    if not (data.split == "test").any():
        raise DataValidationError(f"{dataset}: the test split is empty; cannot evaluate {config}")
    return data


def representative_seed(ws: Workspace, dataset: str, config: str) -> int:
    path = ws.eval_dir(dataset, config) / "metrics.json"
    if path.is_file():
        return int(json.loads(path.read_text())["representative_seed"])
    return int(run_info(ws, dataset, config)["runs"][0]["seed"])


def traversals(ws: Workspace, dataset: str, config: str, tracker: Tracker) -> StageResult:
    from pipelines.evaluation.summary import EvalConfig, encode, mean_kl_per_latent
    from pipelines.evaluation.traversals import plot_traversals, traverse

    cfg = load_params(ws.params_path, "evaluation", EvalConfig)
    seed = representative_seed(ws, dataset, config)
    model, data = trained(ws, dataset, config, seed)
    test = data.part("test")
    x0 = test.x[min(cfg.traversal_index, len(test) - 1)]
    kl = mean_kl_per_latent(*encode(model, test.x))
    values, decoded = traverse(model, x0, cfg.traversal_limit, cfg.traversal_steps)
    out = ws.eval_dir(dataset, config) / "traversals.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    title = f"{dataset} · {config} (seed {seed}): each latent swept {-cfg.traversal_limit:g}..{cfg.traversal_limit:g}"
    plot_traversals(out, x0, values, decoded, kl, test.axis, test.axis_label, test.channel_names, title)
    tracker.log_artifact(seed_run(run_info(ws, dataset, config), seed)["run_id"], out)
    return StageResult(out, {"latents": len(kl), "steps": len(values), "seed": seed})


def metrics(ws: Workspace, dataset: str, config: str, tracker: Tracker) -> StageResult:
    """Disentanglement and downstream metrics of every seed of one partition, their median and IQR and UDR
    (metrics.json, MLflow metrics of each seed's run), and the representative seed's figures: latent-vs-factor
    correlations and samples from the prior beside real ones (PNGs, MLflow artifacts)."""
    from pipelines.evaluation.summary import (
        EvalConfig,
        encode,
        mean_kl_per_latent,
        probe_scores,
        sample_prior,
        summarize_model,
    )
    from pipelines.evaluation.udr import udr
    from pipelines.report.figures import correlation_matrix, factor_correlations, prior_samples

    cfg = load_params(ws.params_path, "evaluation", EvalConfig)
    info = run_info(ws, dataset, config)
    data = _evaluation_set(ws, dataset, config)  # once: every seed is scored on the same samples
    per_seed, models, codes, kls = [], {}, [], []
    for run in info["runs"]:
        model = models[run["seed"]] = _model(ws, dataset, config, run["seed"])
        per_seed.append({"seed": run["seed"], **summarize_model(model, data, cfg), **probe_scores(model, data)})
        mu, logvar = encode(model, data.part("test").x[:UDR_POINTS])
        codes.append(mu.T)
        kls.append(mean_kl_per_latent(mu, logvar))
    if len(per_seed) > 1:
        for summary, score in zip(per_seed, udr(codes, kls)["udr"], strict=True):
            summary["udr"] = float(score)
    # real data's factors are only proxies: UDR ranks its configs, when there are seeds to compare
    summary = aggregate(per_seed, "udr" if data.factor_kind != "generative" and len(per_seed) > 1 else "mig")
    seed = summary["representative_seed"]
    model = models[seed]
    usable = np.isfinite(data.factors).all(axis=1) & (data.split == "test")
    corr = correlation_matrix(encode(model, data.x[usable])[0], data.factors[usable])
    summary["factor_correlation"] = [[None if np.isnan(v) else float(v) for v in row] for row in corr]
    out_dir = ws.eval_dir(dataset, config)
    kl = np.array(summary["kl_per_latent"])
    figures = [
        factor_correlations(corr, data.factor_names, kl, out_dir / "factor_correlations.png",
                            f"{dataset} · {config} (seed {seed}): latents vs {data.factor_kind} factors"),
        prior_samples(sample_prior(model, 8, cfg.seed), data.part("test").x[:8], data.axis, data.axis_label,
                      data.channel_names, out_dir / "prior_samples.png", f"{dataset} · {config}: generation"),
    ]  # fmt: skip
    out = write_text(out_dir / "metrics.json", json.dumps(summary, indent=2) + "\n")
    for own in per_seed:
        run_id = seed_run(info, own["seed"])["run_id"]
        scalars = {f"test_{k}": v for k, v in own.items() if _scalar(v) and k != "seed"}
        tracker.log_metrics(run_id, scalars | {f"test_kl_{i}": v for i, v in enumerate(own["kl_per_latent"])})
        tracker.log_json(run_id, own, "metrics.json")
        version = seed_run(info, own["seed"])["model_version"]
        headline = {f"test_{k}": f"{own[k]:.4f}" for k in HEADLINES if _number(own.get(k))}
        tracker.describe_version(dataset, version, headline)
        if own["seed"] == seed:
            for figure in figures:
                tracker.log_artifact(run_id, figure)
    keys = ("recon_rmse", "kl_total", "active_units", "mig", "udr", "probe_mi_auroc", "probe_next_vol_r2")
    counts = {k: summary[k] for k in keys if k in summary} | {"seeds": len(per_seed)}
    return StageResult(out, counts, extra={**summary, "figures": figures})


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar(value) -> bool:
    return _number(value) and np.isfinite(value)


def aggregate(per_seed: list[dict], headline: str) -> dict:
    """Median (top level) and interquartile range (`iqr`: [Q1, Q3]) over seeds of every score all seeds have
    (NaN seeds left out; NaN when all are), the seeds' own scores, and the representative seed: the one at the
    median of `headline` (the lower of the two middle ones; the first seed when not every seed has it). Per-latent
    KL and factor names are the representative's."""
    keys = [k for k in per_seed[0] if k != "seed" and all(_number(s.get(k)) for s in per_seed)]
    values = {k: np.array([s[k] for s in per_seed], dtype=np.float64) for k in keys}
    if headline in values and np.isfinite(values[headline]).all():
        order = np.argsort(values[headline], kind="stable")
        rep = per_seed[order[(len(order) - 1) // 2]]
    else:
        rep = per_seed[0]
    known = {k: v[np.isfinite(v)] for k, v in values.items()}
    return {
        **{k: float(np.median(v)) if len(v) else float("nan") for k, v in known.items()},
        "iqr": {k: [float(q) for q in np.percentile(v, [25, 75])] for k, v in known.items() if len(v)},
        "headline": headline,
        "representative_seed": rep["seed"],
        "kl_per_latent": rep["kl_per_latent"],
        "factor_names": rep["factor_names"],
        "factor_kind": rep["factor_kind"],
        "seeds": per_seed,
    }
