"""params.yaml read once per process into typed config: `Params` has one attribute per section, each the frozen
dataclass of the module that uses it (`params.beats` is a `pipelines.ecg.beats.BeatConfig`; `sources` and
`operations`, read by the stage layer and the Dagster layer, are defined here), filled by
`pipelines.config.from_dict` when the file is read: an unknown key or a mistyped value anywhere in the file is a
ConfigError naming the file, section and key before any stage runs.

Every caller reads params through `Workspace.params` (pipelines.workspace): the CLI, the Dagster assets, their
partitions and schedules and the tests all see the same file, `$BVAE_PARAMS` or `<root>/params.yaml`. Its contents
are parsed and checked once, and again only when they change, so the stages of a long-lived process such as
`dagster dev` see an edited params.yaml without a restart (the partitions, the schedule and the sensors' switches
are read when the code location loads: reload it in the UI).

Every config class lives in a module that does not import torch (`pipelines.vae.config`,
`pipelines.evaluation.config` for the trainer's and the evaluation's), so the data stages and the Dagster code
location load without it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.config import from_dict, read_params
from pipelines.ecg.beats import BeatConfig
from pipelines.ecg.ludb import LudbConfig
from pipelines.ecg.physionet import PhysioNetConfig
from pipelines.errors import ConfigError
from pipelines.evaluation.config import DriftConfig, EvalConfig, TransferConfig
from pipelines.exchange.candles import CandlesApiConfig
from pipelines.exchange.windows import WindowConfig
from pipelines.synthetic.btc import SyntheticBtcConfig
from pipelines.synthetic.ecg import SyntheticEcgConfig
from pipelines.vae.config import TrainConfig
from pipelines.vae.regularizers import LossConfig
from pipelines.validation.bars import BarChecksConfig
from pipelines.validation.ecg import RecordChecksConfig
from pipelines.validation.samples import SampleChecksConfig


@dataclass(frozen=True)
class SourcesConfig:
    ecg: str = "synthetic"  # "synthetic", "physionet" (download, section `physionet`) or a WFDB directory in PTB
    # layout (e.g. ../shared/data/ptbdb)
    btc: str = "synthetic"  # "synthetic", "coinbase" (candles API, section `coinbase`) or a folder of OHLCV
    # .zip/.csv files (e.g. ../shared/data/exchange)
    ludb: str = ""  # "physionet" (download, section `ludb`) or a directory in LUDB layout (e.g. ../shared/data/ludb);
    # "" or a missing directory: the ludb dataset is not built (the demo and the report go on without it)


@dataclass(frozen=True)
class OperationsConfig:
    """How the Dagster code location starts its automation (assets/schedules.py, assets/sensors.py)."""

    weekly_retrain: bool = False  # start the weekly schedule switched on
    retrain_cron: str = "0 3 * * 1"  # Mondays 03:00
    timezone: str = "UTC"
    inbox_sensor: bool = True  # start the inbox sensor switched on (assets/sensors.py)
    inbox_interval_s: int = 30  # seconds between its looks at the source directories
    automation: bool = True  # start the automation sensor switched on: new data -> the assets below it re-run


@dataclass(frozen=True)
class Params:
    """The sections of one params file, each typed; a section missing from the file holds its defaults."""

    path: Path
    sources: SourcesConfig
    physionet: PhysioNetConfig
    coinbase: CandlesApiConfig
    synthetic_ecg: SyntheticEcgConfig
    synthetic_btc: SyntheticBtcConfig
    ecg_validation: RecordChecksConfig
    beats: BeatConfig
    heartbeat_checks: SampleChecksConfig
    ludb: LudbConfig
    ludb_validation: RecordChecksConfig
    btc_validation: BarChecksConfig
    windows: WindowConfig
    window_checks: SampleChecksConfig
    train: TrainConfig
    sweep: tuple[LossConfig, ...]  # the beta/C configs, in file order (empty when the file has no sweep)
    evaluation: EvalConfig
    transfer: TransferConfig
    drift: DriftConfig
    operations: OperationsConfig

    @classmethod
    def load(cls, path: str | Path) -> Params:
        """The params file at `path`, parsed once per process and again only when its contents change. Raises
        ConfigError naming the file (missing), or its section and key (unknown, or a value of the wrong type)."""
        path = Path(path).resolve()
        try:
            text = path.read_text()  # a few kB: reading is cheap, parsing and checking is what is done once
        except OSError as e:
            raise ConfigError(f"{path}: params file not found or unreadable ({e.strerror})") from e
        return _load(path, text)

    def loss_config(self, name: str) -> LossConfig:
        """The sweep config called `name`; raises ConfigError when there is none."""
        for cfg in self.sweep:
            if cfg.name == name:
                return cfg
        raise ConfigError(f"{self.path}: no sweep config named {name!r}")


# every section params.yaml may hold but `sweep`, and its class
SECTION_TYPES = {
    "sources": SourcesConfig, "physionet": PhysioNetConfig, "coinbase": CandlesApiConfig,
    "synthetic_ecg": SyntheticEcgConfig, "synthetic_btc": SyntheticBtcConfig, "ecg_validation": RecordChecksConfig,
    "beats": BeatConfig, "heartbeat_checks": SampleChecksConfig, "ludb": LudbConfig,
    "ludb_validation": RecordChecksConfig, "btc_validation": BarChecksConfig,
    "windows": WindowConfig, "window_checks": SampleChecksConfig, "train": TrainConfig, "evaluation": EvalConfig,
    "transfer": TransferConfig, "drift": DriftConfig, "operations": OperationsConfig,
}  # fmt: skip


def _sweep(path: Path, entries: Any) -> tuple[LossConfig, ...]:
    """The configs of section `sweep` (a mapping name -> settings); raises ConfigError when it is not a mapping of
    mappings."""
    if entries is None:
        return ()
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"{path}: sweep must map config names to settings, got {entries!r}")
    configs = []
    for name, settings in entries.items():
        where = f"{path}:sweep.{name}"
        if settings is not None and not isinstance(settings, dict):
            raise ConfigError(f"{where}: expected a mapping of settings, got {settings!r}")
        configs.append(from_dict(LossConfig, {**(settings or {}), "name": str(name)}, where=where))
    return tuple(configs)


@functools.lru_cache(maxsize=8)
def _load(path: Path, text: str) -> Params:
    values = read_params(path, text, (*SECTION_TYPES, "sweep"))
    sections = {name: from_dict(cls, values.get(name), where=f"{path}:{name}") for name, cls in SECTION_TYPES.items()}
    return Params(path=path, sweep=_sweep(path, values.get("sweep")), **sections)
