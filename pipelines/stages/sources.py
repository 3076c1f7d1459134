"""Where each dataset's raw data comes from (params.yaml `sources`): the embedded synthetic data, a download
(PhysioNet, the Coinbase candles API) or a directory the user fills, and the fingerprint the inbox sensor
compares to notice new files in such a directory.

`source(ws, dataset)` is the one place that reads a `sources` setting; everything else asks it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

from pipelines.ecg.physionet import download_database
from pipelines.errors import ConfigError
from pipelines.exchange.candles import update_store
from pipelines.quarantine import Reject
from pipelines.synthetic.btc import BARS_FILE, FACTORS_FILE, generate_btc
from pipelines.synthetic.ecg import generate_ecg
from pipelines.workspace import Workspace

__all__ = ["Source", "fetch", "generate", "source", "source_fingerprint"]
DOWNLOADS = {"ecg": "physionet", "btc": "coinbase", "ludb": "physionet"}  # the `sources` value that downloads each
SYNTHETIC = ("ecg", "btc")  # the datasets with embedded synthetic data


@dataclass(frozen=True)
class Source:
    kind: str  # "synthetic", "physionet", "coinbase", "directory" (a folder the user fills: an inbox) or "none"
    directory: Path  # the WFDB records or bar files the dataset's ingest reads
    factors_file: Path | None = None  # synthetic BTC: the generative factors of each window

    @property
    def watched(self) -> bool:
        """Whether the inbox sensor watches it: only a directory the user fills, not one the pipeline fills."""
        return self.kind == "directory"

    @property
    def available(self) -> bool:
        """Whether the dataset can be built: generated or downloaded on demand, or a directory that exists."""
        return self.kind != "none" and (self.kind != "directory" or self.directory.is_dir())


def source(ws: Workspace, dataset: str) -> Source:
    """Where `dataset`'s raw data live, by its params.yaml `sources` setting; raises ConfigError for an unknown
    dataset or a setting it cannot read (another dataset's download)."""
    if dataset not in DOWNLOADS:
        raise ConfigError(f"no source for dataset {dataset!r}; params.yaml sources has {', '.join(DOWNLOADS)}")
    setting = getattr(ws.params.sources, dataset)
    reads = ["synthetic"] * (dataset in SYNTHETIC) + [DOWNLOADS[dataset], "a directory"]
    if setting in {*DOWNLOADS.values(), "synthetic"} - set(reads):
        raise ConfigError(f"{ws.params_path}: sources.{dataset} is {setting!r}, which {dataset} cannot read; it reads "
                          f"{' or '.join(reads)}")  # fmt: skip
    if not setting:
        return Source("none", Path())
    if setting == "synthetic" and dataset == "ecg":
        return Source("synthetic", ws.synthetic_ecg_dir)
    if setting == "synthetic":
        return Source("synthetic", (ws.synthetic_btc_dir / BARS_FILE).parent, ws.synthetic_btc_dir / FACTORS_FILE)
    if setting == "physionet":
        return Source("physionet", ws.physionet_dir(_physionet(ws, dataset).database))
    if setting == "coinbase":
        return Source("coinbase", ws.data / "raw" / "coinbase")
    return Source("directory", ws.resolve(setting))


def fetch(ws: Workspace, dataset: str) -> tuple[Source, list[str] | None, list[Reject]]:
    """Make the dataset's source present: generate the synthetic data (a no-op when current), download from
    PhysioNet (resumable, verified) or bring the Coinbase store up to date; a directory is read as it is.
    Returns the source, the records to ingest (None: all) and the downloads' rejects."""
    src = source(ws, dataset)
    if src.kind == "none":
        raise ConfigError(f"{ws.params_path}: sources.{dataset} is empty: the {dataset} dataset has no source")
    if src.kind == "synthetic":
        generate(ws, dataset)
    elif src.kind == "physionet":
        done, rejects = download_database(src.directory, _physionet(ws, dataset))
        return src, done, rejects
    elif src.kind == "coinbase":
        update_store(src.directory, ws.params.coinbase)
    return src, None, []


def _physionet(ws: Workspace, dataset: str):
    """The PhysioNet download of `dataset`: the `physionet` section, for ludb with the `ludb` section's database
    and version and every record."""
    cfg = ws.params.physionet
    return replace(cfg, database=ws.params.ludb.database, version=ws.params.ludb.version, records=()) \
        if dataset == "ludb" else cfg  # fmt: skip


def generate(ws: Workspace, dataset: str) -> Path:
    """Generate the embedded synthetic data of `dataset` (params.yaml `synthetic_<dataset>`; a no-op when
    current); returns its folder."""
    if dataset == "ecg":
        return generate_ecg(ws.synthetic_ecg_dir, ws.params.synthetic_ecg)
    if dataset == "btc":
        return generate_btc(ws.synthetic_btc_dir, ws.params.synthetic_btc)
    raise ConfigError(f"no synthetic data for dataset {dataset!r}")


def source_fingerprint(directory: Path, patterns: tuple[str, ...]) -> str:
    """md5 over the relative path, size and mtime of every file under `directory` matching `patterns` (a dataset's
    DatasetSpec.source_files): it changes when a record or bar file is added, replaced or removed. A missing
    directory has the fingerprint of no files."""
    files = sorted({p for pattern in patterns for p in Path(directory).rglob(pattern) if p.is_file()})
    entries = [(str(p.relative_to(directory)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return hashlib.md5(json.dumps(entries).encode()).hexdigest()
