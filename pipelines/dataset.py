"""The training set both datasets reduce to: heartbeats or price windows as rows of equal length, with factors,
a split and per-sample labels, stored as one compressed npz (no pickles) so DVC tracks one file, not many.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.storage import write_npz

SPLITS = ("train", "val", "test")


@dataclass
class TrainingSet:
    x: np.ndarray  # (N, L) float32 samples in `value_label` units
    axis: np.ndarray  # (L,) position of each feature along `axis_label` (ms from R peak, minutes)
    axis_label: str
    value_label: str
    factors: np.ndarray  # (N, F) float64 generative (synthetic) or proxy (real data) factors; NaN = unknown
    factor_names: list[str]
    factor_kind: str  # "generative" (known, synthetic data), "expert" (from annotations: LUDB) or "proxy" (derived)
    split: np.ndarray  # (N,) one of SPLITS
    labels: pd.DataFrame  # (N rows) record/patient/lead or window start, ...
    # names of the channels laid end to end along a sample, each len(axis) long; empty: one, `value_label`
    channels: list[str] = field(default_factory=list)

    def __post_init__(self):
        n, f = len(self.x), len(self.factor_names)
        length = len(self.axis) * max(len(self.channels), 1)
        assert self.x.ndim == 2 and self.x.shape[1] == length, (self.x.shape, self.axis.shape, self.channels)
        assert self.factors.shape == (n, f), (self.factors.shape, n, f)
        assert self.split.shape == (n,) and len(self.labels) == n, (self.split.shape, len(self.labels), n)

    def __len__(self) -> int:
        return len(self.x)

    def part(self, split: str) -> TrainingSet:
        """The rows of one split."""
        keep = self.split == split
        return TrainingSet(
            x=self.x[keep], axis=self.axis, axis_label=self.axis_label, value_label=self.value_label,
            factors=self.factors[keep], factor_names=self.factor_names, factor_kind=self.factor_kind,
            split=self.split[keep], labels=self.labels[keep].reset_index(drop=True), channels=self.channels,
        )  # fmt: skip

    @property
    def channel_names(self) -> list[str]:
        return self.channels or [self.value_label]

    def save(self, path: str | Path) -> Path:
        labels = {f"label__{c}": _plain(self.labels[c]) for c in self.labels.columns}
        return write_npz(
            path, x=self.x.astype(np.float32), axis=self.axis, axis_label=np.array(self.axis_label),
            value_label=np.array(self.value_label), factors=self.factors.astype(np.float64),
            factor_names=np.array(self.factor_names, dtype=str), factor_kind=np.array(self.factor_kind),
            split=self.split.astype(str), channels=np.array(self.channels, dtype=str), **labels,
        )  # fmt: skip

    @classmethod
    def load(cls, path: str | Path) -> TrainingSet:
        with np.load(path, allow_pickle=False) as z:
            labels = pd.DataFrame({k.removeprefix("label__"): z[k] for k in z.files if k.startswith("label__")})
            return cls(
                x=z["x"], axis=z["axis"], axis_label=str(z["axis_label"]), value_label=str(z["value_label"]),
                factors=z["factors"], factor_names=[str(n) for n in z["factor_names"]],
                factor_kind=str(z["factor_kind"]), split=z["split"], labels=labels,
                channels=[str(c) for c in z["channels"]] if "channels" in z.files else [],
            )  # fmt: skip


def _plain(column: pd.Series) -> np.ndarray:
    """A label column as a numpy array npz can hold without pickling (strings as fixed-width unicode)."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.dt.tz_localize(None).to_numpy().astype("datetime64[s]") if column.dt.tz else column.to_numpy()
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return column.to_numpy()
    return column.astype(str).to_numpy().astype(str)
