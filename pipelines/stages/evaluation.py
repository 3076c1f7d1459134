"""The evaluation stages of a trained partition: its disentanglement and downstream metrics over every seed with
their figures, and the latent traversals of its representative seed; each also logged to the seeds' MLflow runs.

metrics.json holds, per score, the median over seeds (top level) and the interquartile range (`iqr`), every seed's
own scores (`seeds`), UDR (Duan et al. 2020, which needs no factors: how alike the seeds' latents are) when there
are two or more seeds, and the `representative_seed`: the seed with the median MIG against known (generative)
factors, or with the median UDR on real data (MIG against its proxies with one seed), whose traversals,
correlations and prior samples are drawn."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from pipelines.dataset import TrainingSet
from pipelines.errors import DataValidationError
from pipelines.evaluation.scores import HEADLINES, SUMMARY_SCORES, is_number
from pipelines.evaluation.selection import aggregate
from pipelines.stages.common import StageResult
from pipelines.stages.trained import run_info, seed_run
from pipelines.storage import write_text
from pipelines.tracking import Tracker
from pipelines.workspace import Workspace

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
    from pipelines.evaluation.summary import encode, mean_kl_per_latent
    from pipelines.evaluation.traversals import plot_traversals, traverse

    cfg = ws.params.evaluation
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


class Figures(NamedTuple):
    """The metrics stage's figures of the representative seed (PNG paths)."""

    correlations: Path  # latents against the factors (Spearman)
    prior: Path  # samples from the prior beside real ones


@dataclass
class MetricsResult(StageResult):
    """metrics.json (`output`), the headline scores (`counts`), the whole summary as written and the figures."""

    summary: dict = field(default_factory=dict)
    figures: Figures | None = None


def metrics(ws: Workspace, dataset: str, config: str, tracker: Tracker) -> MetricsResult:
    """Disentanglement and downstream metrics of every seed of one partition, their median and IQR and UDR
    (metrics.json, MLflow metrics of each seed's run), and the representative seed's figures: latent-vs-factor
    correlations and samples from the prior beside real ones (PNGs, MLflow artifacts)."""
    from pipelines.evaluation.summary import encode
    from pipelines.evaluation.unsupervised import latent_labels
    from pipelines.report.figures import correlation_matrix

    cfg = ws.params.evaluation
    info = run_info(ws, dataset, config)
    data = _evaluation_set(ws, dataset, config)  # once: every seed is scored on the same samples
    per_seed, models = _score_seeds(ws, dataset, config, info, data, cfg)
    # proxy factors (real data without annotations) are only guesses: UDR ranks its configs, when there are seeds
    summary = aggregate(per_seed, "udr" if data.factor_kind == "proxy" and len(per_seed) > 1 else "mig")
    seed = summary["representative_seed"]
    usable = np.isfinite(data.factors).all(axis=1) & (data.split == "test")
    corr = correlation_matrix(encode(models[seed], data.x[usable])[0], data.factors[usable])
    summary["factor_correlation"] = [[None if np.isnan(v) else float(v) for v in row] for row in corr]
    summary["latents"] = latent_labels(corr, data.factor_names, summary["kl_per_latent"])  # the explorer's labels
    figures = _draw(ws.eval_dir(dataset, config), dataset, config, models[seed], data, summary, corr, cfg)
    out = write_text(ws.eval_dir(dataset, config) / "metrics.json", json.dumps(summary, indent=2) + "\n")
    _log_seeds(tracker, dataset, info, per_seed, seed, figures, summary["latents"])
    counts = {k: summary[k] for k in SUMMARY_SCORES if k in summary} | {"seeds": len(per_seed)}
    return MetricsResult(out, counts, summary=summary, figures=figures)


def _score_seeds(ws: Workspace, dataset: str, config: str, info: dict, data: TrainingSet, cfg) -> tuple[list, dict]:
    """Every seed's scores on the test split (with their UDR when there are two or more seeds) and its model."""
    from pipelines.evaluation.summary import encode, mean_kl_per_latent, probe_scores, summarize_model
    from pipelines.evaluation.udr import udr

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
    return per_seed, models


def _draw(out_dir: Path, dataset: str, config: str, model, data: TrainingSet, summary: dict, corr, cfg) -> Figures:
    from pipelines.evaluation.summary import sample_prior
    from pipelines.report.figures import factor_correlations, prior_samples

    seed, kl = summary["representative_seed"], np.array(summary["kl_per_latent"])
    return Figures(
        factor_correlations(corr, data.factor_names, kl, out_dir / "factor_correlations.png",
                            f"{dataset} · {config} (seed {seed}): latents vs {data.factor_kind} factors"),
        prior_samples(sample_prior(model, 8, cfg.seed), data.part("test").x[:8], data.axis, data.axis_label,
                      data.channel_names, out_dir / "prior_samples.png", f"{dataset} · {config}: generation"),
    )  # fmt: skip


def _log_seeds(tracker: Tracker, dataset: str, info: dict, per_seed: list[dict], shown: int, figures: Figures,
               latents: list[dict]):  # fmt: skip
    """Each seed's scores as metrics of its MLflow run, its headline scores as tags of its model version; the
    figures on the shown (representative) seed's run, and what its latents track (`latents`, JSON) on its version."""
    for own in per_seed:
        run_id = seed_run(info, own["seed"])["run_id"]
        scalars = {f"test_{k}": v for k, v in own.items() if _scalar(v) and k != "seed"}
        tracker.log_metrics(run_id, scalars | {f"test_kl_{i}": v for i, v in enumerate(own["kl_per_latent"])})
        tracker.log_json(run_id, own, "metrics.json")
        version = seed_run(info, own["seed"])["model_version"]
        headline = {f"test_{k}": f"{own[k]:.4f}" for k in HEADLINES if is_number(own.get(k))}
        labels = {"latents": json.dumps(latents)} if own["seed"] == shown else {}  # `encode` names columns by it
        tracker.describe_version(dataset, version, headline | labels)
        if own["seed"] == shown:
            for figure in figures:
                tracker.log_artifact(run_id, figure)


def _scalar(value) -> bool:
    return is_number(value) and np.isfinite(value)
