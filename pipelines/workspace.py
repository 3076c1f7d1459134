"""Where every stage reads and writes: one object holding the project root and its params file (`params`: the
typed sections of that file, pipelines.params.Params).

All generated files live under `<root>/data/` (git-ignored, tracked by DVC). The layout is fixed here so that
the CLI (dvc.yaml), the Dagster assets and the tests agree on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.params import Params


def _under_data(*parts: str) -> property:
    """A fixed path under the workspace's data/ folder, as a read-only property."""
    return property(lambda self: self.data.joinpath(*parts))


@dataclass(frozen=True)
class Workspace:
    root: Path
    params_path: Path

    @classmethod
    def from_env(cls) -> Workspace:
        """Root from $BVAE_ROOT (default: the working directory); params from $BVAE_PARAMS or root/params.yaml."""
        root = Path(os.environ.get("BVAE_ROOT", ".")).resolve()
        return cls(root=root, params_path=Path(os.environ.get("BVAE_PARAMS", root / "params.yaml")).resolve())

    @property
    def params(self) -> Params:
        """The params file's typed sections (read once per process, and again when the file changes)."""
        from pipelines.params import Params  # here: it imports every stage's config module (pandas among them)

        return Params.load(self.params_path)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def resolve(self, path: str | Path) -> Path:
        """A path from params.yaml: relative paths are relative to the project root."""
        path = Path(path)
        return path if path.is_absolute() else self.root / path

    # raw embedded default data
    synthetic_ecg_dir = _under_data("raw", "synthetic_ecg")
    synthetic_btc_dir = _under_data("raw", "synthetic_btc")

    def physionet_dir(self, database: str) -> Path:
        return self.data / "raw" / "physionet" / database

    # ECG stages
    ecg_records = _under_data("ecg", "records.parquet")
    ecg_records_validated = _under_data("ecg", "records_validated.parquet")
    heartbeats = _under_data("ecg", "training_set.npz")  # = training_set("ecg")

    # LUDB stages (the annotated real heartbeats)
    ludb_records = _under_data("ludb", "records.parquet")
    ludb_records_validated = _under_data("ludb", "records_validated.parquet")

    # exchange stages
    btc_bars = _under_data("btc", "bars.parquet")
    btc_bars_validated = _under_data("btc", "bars_validated.parquet")
    price_windows = _under_data("btc", "training_set.npz")  # = training_set("btc")

    def lock(self, name: str) -> Path:
        """Lock file serialising the runs that write the same outputs (pipelines.storage.exclusive)."""
        return self.data / ".locks" / f"{name}.lock"

    def quarantine(self, stage: str) -> Path:
        return self.data / "quarantine" / f"{stage}.csv"

    def training_set(self, dataset: str) -> Path:
        """Heartbeats (ecg, ludb) or price windows (btc) as a pipelines.dataset.TrainingSet file."""
        return self.data / dataset / "training_set.npz"

    # models and evaluation, one folder per partition
    def model_dir(self, dataset: str, config: str) -> Path:
        return self.data / "models" / dataset / config

    def checkpoint(self, dataset: str, config: str, seed: int) -> Path:
        """The trained model of one seed of a partition (pipelines.vae.checkpoints)."""
        return self.model_dir(dataset, config) / "checkpoints" / f"seed{seed}.pt"

    def history(self, dataset: str, config: str, seed: int) -> Path:
        """Loss, reconstruction and KL per epoch of one seed's training (CSV; `dvc plots show` draws them)."""
        return self.data / "history" / dataset / config / f"seed{seed}.csv"

    def grid_resume(self, dataset: str) -> Path:
        """Resume checkpoint of a grid trained in one pass (a single partition resumes from its model_dir)."""
        return self.data / "models" / dataset / "grid-resume.pt"

    def eval_dir(self, dataset: str, config: str) -> Path:
        return self.data / "eval" / dataset / config

    @property
    def report_dir(self) -> Path:
        return self.data / "report"
