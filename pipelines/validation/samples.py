"""Great Expectations suite for a training set (heartbeats or price windows): every sample as long as the axis,
finite and within a plausible amplitude, every label present. The blocking check also asks for enough training
samples."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.dataset import SPLITS, TrainingSet
from pipelines.validation.expectations import Check, SuiteResult, run_suite


@dataclass(frozen=True)
class SampleChecksConfig:
    max_abs_value: float = 10.0  # in the set's value units (mV for beats, log return for windows)
    min_train_samples: int = 200  # fewer fails the blocking check that gates training


def validate_samples(name: str, data: TrainingSet, cfg: SampleChecksConfig) -> SuiteResult:
    """Validate shape-level properties of `data`; the result's success also requires min_train_samples."""
    frame = data.labels.copy()
    frame["all_finite"] = np.isfinite(data.x).all(axis=1)
    frame["max_abs"] = np.abs(np.nan_to_num(data.x, nan=np.inf)).max(axis=1)
    frame["split"] = data.split
    frame["length"] = data.x.shape[1]  # one row per sample: its number of values
    checks = [
        Check("ExpectColumnValuesToBeInSet", {"column": "all_finite", "value_set": [True]}, "non-finite value"),
        Check(
            "ExpectColumnValuesToBeBetween",
            {"column": "max_abs", "max_value": cfg.max_abs_value},
            f"|value| beyond {cfg.max_abs_value:g}",
        ),
        Check(
            "ExpectColumnValuesToBeInSet",
            {"column": "split", "value_set": list(SPLITS)},
            "unknown split",
        ),
        Check(
            "ExpectColumnValuesToBeInSet",
            {"column": "length", "value_set": [len(data.axis) * len(data.channel_names)]},
            f"length differs from the {len(data.axis)} points of the axis x {len(data.channel_names)} channel(s)",
        ),
    ] + [Check("ExpectColumnValuesToNotBeNull", {"column": c}, f"label {c} missing") for c in data.labels.columns]
    result = run_suite(name, frame, checks)
    n_train = int((data.split == "train").sum())
    result.checks.append(
        {
            "expectation": "min_train_samples",
            "columns": f"split: {train_gate(n_train, cfg)}",
            "success": n_train >= cfg.min_train_samples,
            "unexpected_count": 0,  # a count of the whole set, not of failing rows
        }
    )
    return result


def train_gate(n_train: int, cfg: SampleChecksConfig) -> str:
    """What the min_train_samples check saw against what it needs, as its result and the stage's gate say it."""
    return f"{n_train} train samples, need {cfg.min_train_samples}"
