"""The latent scores of a dataset as now ingested under its champion, and their drift from the champion's training
split (pipelines.evaluation.drift): the `<dataset>_latent_scores` asset and its `<dataset>_latent_drift` check.

The reference is the champion's codes of its own training split. It is computed while the training set is the one
the champion was trained on (the version's `data_md5` tag) and kept beside it (`latent_reference.npz`), so that
when new data has been ingested since, every sample of the new training set is compared with it. On the
champion's own data there is nothing new to compare (its test split holds other subjects than its training split:
with a few subjects that alone is a real difference, not drift).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.dataset import TrainingSet
from pipelines.errors import DataValidationError
from pipelines.evaluation.drift import latent_drift
from pipelines.stages.common import StageResult
from pipelines.storage import atomic_path, write_parquet
from pipelines.tracking import Tracker
from pipelines.versioning import file_md5
from pipelines.workspace import Workspace

ORIGIN = ("record", "lead", "patient", "start")  # the labels kept beside the codes, where a dataset has them


@dataclass
class DriftResult(StageResult):
    """The codes table (`output`), the champion version used, the per-latent drift table and its figure, what was
    compared with what; `passed` is False when a latent moved (the check's WARN)."""

    model_version: str = ""
    table: pd.DataFrame | None = None
    figure: Path | None = None
    compared: str = ""
    moved: list[str] = field(default_factory=list)


def latent_scores(ws: Workspace, dataset: str, tracker: Tracker) -> DriftResult:
    from pipelines.report.figures import latent_drift as drift_figure

    version = tracker.model_version(dataset, "champion")
    number = str(version.version)
    path = ws.training_set(dataset)
    if not path.is_file():
        raise DataValidationError(f"{path}: no {dataset} training set to score; materialize the data first")
    data, md5 = TrainingSet.load(path), file_md5(path)
    codes = tracker.load_model(dataset, number).predict(data.x.astype(np.float64))
    scores = pd.concat([data.labels[[c for c in ORIGIN if c in data.labels]].reset_index(drop=True),
                        pd.Series(data.split, name="split"), codes], axis=1)  # fmt: skip
    out = write_parquet(ws.data / dataset / "latent_scores.parquet", scores)
    z = codes.to_numpy()
    reference_file = ws.data / dataset / "latent_reference.npz"
    counts = {"model_version": number, "samples": len(data)}
    if md5 == version.tags.get("data_md5"):  # the champion's own data: nothing new; keep its training split's codes
        with atomic_path(reference_file) as tmp, open(tmp, "wb") as f:
            np.savez(f, codes=z[data.split == "train"], model_version=number, data_md5=md5)
        compared = f"nothing: the data is the one version {number} was trained on (DVC md5 {md5[:8]})"
        return DriftResult(out, counts, model_version=number, compared=compared, gate=f"no new data; {compared}")
    reference, current = _reference(reference_file, number), z
    if reference is None:
        compared = f"nothing: no codes of version {number}'s training split were kept"
        return DriftResult(out, counts, model_version=number, compared=compared, gate=compared)
    trained_on = version.tags.get("data_md5", "?")[:8]
    compared = (f"all {len(current)} samples as now ingested (DVC md5 {md5[:8]}) against the training split "
                f"({len(reference)}) of the data it was trained on ({trained_on})")  # fmt: skip
    labels = json.loads(version.tags.get("latents") or "[]")  # the metrics stage's; without them, every latent
    active = [label["active"] for label in labels] if isinstance(labels, list) and labels else [True] * z.shape[1]
    cfg = ws.params.drift
    table = latent_drift(reference, current, active, cfg)
    moved = table.latent[table.moved].tolist()
    title = f"{dataset}: champion version {number}, codes now vs its training split"
    figure = drift_figure(reference, current, table, ws.data / dataset / "latent_drift.png", title)
    gate = (f"{', '.join(moved) or 'no active latent'} moved (KS > {cfg.ks_max} or PSI > {cfg.psi_max}, "
            f"KS p < {cfg.alpha} / {z.shape[1]}); compared {compared}")  # fmt: skip
    return DriftResult(out, counts | {"latents_moved": len(moved)}, passed=not moved, gate=gate, model_version=number,
                       table=table, figure=figure, compared=compared, moved=moved)  # fmt: skip


def _reference(path: Path, version: str) -> np.ndarray | None:
    """The kept reference codes when they are the given champion version's, else None."""
    if not path.is_file():
        return None
    with np.load(path) as saved:
        return saved["codes"] if str(saved["model_version"]) == str(version) else None
