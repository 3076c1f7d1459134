"""`python -m pipelines encode`: the latent codes of new raw data under a registered model, by the pipeline's own
ingest, validation and segmentation (the dataset's DatasetSpec.read_samples), writing nothing under data/.

    python -m pipelines encode --dataset ecg --input <WFDB dir> [--model champion|VERSION] --out latents.parquet
    python -m pipelines encode --dataset btc --input <bar files dir, or one file> --out latents.parquet

One row per sample (beat or window): where it comes from (`item`: the record, or the window's start; a beat's
lead and time in s), `z0…z9` (the posterior means), a copy of the latent that tracks each factor best named by
the factor (from the model version's `latents` tag, set by the metrics stage), then one row per quarantined item
with its `quarantine_reason` and no codes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.dataset import TrainingSet
from pipelines.errors import ConfigError
from pipelines.stages.datasets import DATASET_SPECS
from pipelines.tracking import Tracker
from pipelines.tracking_store import model_name
from pipelines.workspace import Workspace

log = logging.getLogger(__name__)
ORIGIN = {"ecg": ["record", "lead", "beat_time_s"], "ludb": ["record", "lead", "beat_time_s"], "btc": ["start"]}


def encode(ws: Workspace, tracker: Tracker, dataset: str, where: str | Path, model: str = "champion") -> pd.DataFrame:
    """The codes table of the raw data at `where` (a directory, or for btc one bar file) under `model` (a version
    number or "champion") of `<dataset>-beta-vae`. ConfigError when the input is missing or the model takes samples
    of another length than the dataset's recipe cuts (naming both)."""
    where = Path(where)
    if not where.exists():
        raise ConfigError(f"{where}: no such file or directory (--input)")
    version = tracker.model_version(dataset, model)
    pyfunc = tracker.load_model(dataset, version.version)
    name = f"{model_name(dataset)} version {version.version}" + (" (champion)" if model == "champion" else "")
    width = pyfunc.metadata.get_input_schema().inputs[0].shape[1]
    with _as_directory(where) as directory:
        samples, rejects = DATASET_SPECS[dataset].read_samples(ws, directory)
    if samples.x.shape[1] != width:
        raise ConfigError(f"{name} takes samples of {width} values, but the {dataset} samples cut from {where} have "
                          f"{samples.x.shape[1]}: params.yaml's recipe is not the one it was trained with")  # fmt: skip
    log.info("encoding %d %s samples of %s with %s (%d item(s) quarantined)", len(samples), dataset, where, name,
             len(rejects))  # fmt: skip
    codes = pyfunc.predict(samples.x.astype(np.float64))
    aliases = {label["factor"]: codes[label["latent"]] for label in _best_latents(version.tags.get("latents"))}
    table = pd.concat([_origin(samples, dataset), codes, pd.DataFrame(aliases)], axis=1)
    quarantined = pd.DataFrame({"item": [r.item for r in rejects], "quarantine_reason": [r.reason for r in rejects]})
    return pd.concat([table.assign(quarantine_reason=None), quarantined], ignore_index=True)


def _origin(samples: TrainingSet, dataset: str) -> pd.DataFrame:
    origin = samples.labels[ORIGIN[dataset]].reset_index(drop=True)
    item = origin["record"] if "record" in origin else origin["start"].astype(str)
    return pd.concat([item.astype(str).rename("item"), origin.drop(columns=["record"], errors="ignore")], axis=1)


def _best_latents(tag: str | None) -> list[dict]:
    """Of the `latents` tag (pipelines.evaluation.unsupervised.latent_labels, JSON), the active latent that tracks
    each factor best, one per factor."""
    best: dict[str, dict] = {}
    for label in json.loads(tag) if tag else []:
        if label["active"] and label["factor"] and label["rho"] > best.get(label["factor"], {"rho": -1})["rho"]:
            best[label["factor"]] = label
    return list(best.values())


@contextlib.contextmanager
def _as_directory(where: Path) -> Iterator[Path]:
    """`where` itself when it is a directory; for one file, a temporary directory with a link to it."""
    if where.is_dir():
        yield where
        return
    tmp = Path(tempfile.mkdtemp(prefix="encode-"))
    try:
        (tmp / where.name).symlink_to(where.resolve())
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
