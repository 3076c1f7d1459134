"""Where each dataset's raw data comes from (params.yaml `sources`): the embedded synthetic data, a download
(PhysioNet, the Coinbase candles API) or a directory the user fills, and the fingerprint the inbox sensor
compares to notice new files in such a directory."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pipelines.config import load_params
from pipelines.ecg.physionet import PhysioNetConfig, download_database
from pipelines.quarantine import Reject
from pipelines.stages.common import StageResult, locked
from pipelines.synthetic.btc import BARS_FILE, FACTORS_FILE, SyntheticBtcConfig, generate_btc
from pipelines.synthetic.ecg import SyntheticEcgConfig, generate_ecg
from pipelines.workspace import DATASETS, Workspace


@dataclass(frozen=True)
class SourcesConfig:
    ecg: str = "synthetic"  # "synthetic", "physionet" (download, section `physionet`) or a WFDB directory in PTB
    # layout (e.g. ../shared/data/ptbdb)
    btc: str = "synthetic"  # "synthetic", "coinbase" (candles API, section `coinbase`) or a folder of OHLCV
    # .zip/.csv files (e.g. ../shared/data/exchange)


def ecg_source(ws: Workspace) -> Path:
    """The WFDB directory the ECG stages read (filled by ingest_ecg for the synthetic and PhysioNet sources)."""
    src = load_params(ws.params_path, "sources", SourcesConfig).ecg
    if src == "synthetic":
        return ws.synthetic_ecg_dir
    if src == "physionet":
        return ws.physionet_dir(load_params(ws.params_path, "physionet", PhysioNetConfig).database)
    return ws.resolve(src)


def fetch_ecg_source(ws: Workspace) -> tuple[Path, list[str] | None, list[Reject]]:
    """Make the ECG source present: generate the synthetic records (a no-op when current) or download from
    PhysioNet (resumable, verified). Returns the directory, the records to ingest (None: all) and rejects."""
    src = load_params(ws.params_path, "sources", SourcesConfig).ecg
    if src == "synthetic":
        generate_ecg(ws.synthetic_ecg_dir, load_params(ws.params_path, "synthetic_ecg", SyntheticEcgConfig))
    elif src == "physionet":
        cfg = load_params(ws.params_path, "physionet", PhysioNetConfig)
        done, rejects = download_database(ecg_source(ws), cfg)
        return ecg_source(ws), done, rejects
    return ecg_source(ws), None, []


def btc_source(ws: Workspace) -> tuple[Path, Path | None]:
    """The folder of bar files and, for synthetic data, the file of per-window generative factors."""
    src = load_params(ws.params_path, "sources", SourcesConfig).btc
    if src == "synthetic":
        return (ws.synthetic_btc_dir / BARS_FILE).parent, ws.synthetic_btc_dir / FACTORS_FILE
    if src == "coinbase":
        return ws.data / "raw" / "coinbase", None
    return ws.resolve(src), None


SOURCE_FILES = {"ecg": ("*.hea", "*.dat", "RECORDS", "CONTROLS"), "btc": ("*.csv", "*.zip", "*.parquet")}


def watched_source(ws: Workspace, dataset: str) -> Path | None:
    """The dataset's source when it is a directory the user fills (an inbox for new WFDB records or bar files);
    None for the synthetic, PhysioNet and Coinbase sources, which the pipeline fills itself."""
    src = getattr(load_params(ws.params_path, "sources", SourcesConfig), dataset)
    if src in ("synthetic", "physionet", "coinbase"):
        return None
    return ws.resolve(src)


def source_fingerprint(directory: Path, dataset: str) -> str:
    """md5 over the relative path, size and mtime of every data file under `directory` (SOURCE_FILES): it changes
    when a record or bar file is added, replaced or removed. A missing directory has the fingerprint of no files."""
    files = sorted({p for pattern in SOURCE_FILES[dataset] for p in Path(directory).rglob(pattern) if p.is_file()})
    entries = [(str(p.relative_to(directory)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return hashlib.md5(json.dumps(entries).encode()).hexdigest()


def generate(ws: Workspace, datasets: tuple[str, ...] = DATASETS) -> StageResult:
    """Generate the embedded default data of the datasets (a no-op where it is current)."""
    with locked(ws, [f"{d}-data" for d in datasets], "generate"):
        return _generate(ws, datasets)


def _generate(ws: Workspace, datasets: tuple[str, ...]) -> StageResult:
    made = {}
    if "ecg" in datasets:
        made["ecg"] = generate_ecg(
            ws.synthetic_ecg_dir, load_params(ws.params_path, "synthetic_ecg", SyntheticEcgConfig)
        )
    if "btc" in datasets:
        made["btc"] = generate_btc(
            ws.synthetic_btc_dir, load_params(ws.params_path, "synthetic_btc", SyntheticBtcConfig)
        )
    return StageResult(output=next(iter(made.values())), extra={k: str(v) for k, v in made.items()})
