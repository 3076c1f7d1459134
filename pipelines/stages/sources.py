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
from pipelines.synthetic.btc import BARS_FILE, FACTORS_FILE, SyntheticBtcConfig, generate_btc
from pipelines.synthetic.ecg import SyntheticEcgConfig, generate_ecg
from pipelines.workspace import Workspace


@dataclass(frozen=True)
class SourcesConfig:
    ecg: str = "synthetic"  # "synthetic", "physionet" (download, section `physionet`) or a WFDB directory in PTB
    # layout (e.g. ../shared/data/ptbdb)
    btc: str = "synthetic"  # "synthetic", "coinbase" (candles API, section `coinbase`) or a folder of OHLCV
    # .zip/.csv files (e.g. ../shared/data/exchange)


def synthetic_ecg(ws: Workspace) -> Path:
    """Generate the embedded synthetic ECG records (params.yaml `synthetic_ecg`; a no-op when current)."""
    return generate_ecg(ws.synthetic_ecg_dir, load_params(ws.params_path, "synthetic_ecg", SyntheticEcgConfig))


def synthetic_btc(ws: Workspace) -> Path:
    """Generate the embedded synthetic bars and factors (params.yaml `synthetic_btc`; a no-op when current)."""
    return generate_btc(ws.synthetic_btc_dir, load_params(ws.params_path, "synthetic_btc", SyntheticBtcConfig))


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
        synthetic_ecg(ws)
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


def watched_source(ws: Workspace, dataset: str) -> Path | None:
    """The dataset's source when it is a directory the user fills (an inbox for new WFDB records or bar files);
    None for the synthetic, PhysioNet and Coinbase sources, which the pipeline fills itself."""
    src = getattr(load_params(ws.params_path, "sources", SourcesConfig), dataset)
    if src in ("synthetic", "physionet", "coinbase"):
        return None
    return ws.resolve(src)


def source_fingerprint(directory: Path, patterns: tuple[str, ...]) -> str:
    """md5 over the relative path, size and mtime of every file under `directory` matching `patterns` (a dataset's
    DatasetSpec.source_files): it changes when a record or bar file is added, replaced or removed. A missing
    directory has the fingerprint of no files."""
    files = sorted({p for pattern in patterns for p in Path(directory).rglob(pattern) if p.is_file()})
    entries = [(str(p.relative_to(directory)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return hashlib.md5(json.dumps(entries).encode()).hexdigest()
