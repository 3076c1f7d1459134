"""The pipeline's stages, each one call from params.yaml to files under data/: what `python -m pipelines
<stage>` (dvc.yaml) and the Dagster assets both run, so the two can never drift apart.

Every stage reads its config from its section of params.yaml, calls the domain functions, writes its outputs
atomically and returns a StageResult (output path, counts, quarantined items, validation suite) that the caller
turns into log lines or asset metadata. One module per subject: `sources` (where raw data comes from), `ecg` and
`btc` (each dataset's ingest, validate and segment stages), `datasets` (one DatasetSpec per dataset, and the
generate stage over them), `training`, `evaluation` and `report`; `common` holds the result type and the locks
they share. Import the stages from here (`from pipelines import stages`).
"""

from pipelines.stages.btc import ingest_btc, price_windows, validate_btc
from pipelines.stages.common import StageResult
from pipelines.stages.datasets import DATASET_SPECS, DATASETS, DatasetSpec, generate
from pipelines.stages.ecg import heartbeats, ingest_ecg, validate_ecg
from pipelines.stages.evaluation import metrics, traversals
from pipelines.stages.report import SCORES, report
from pipelines.stages.sources import (
    SourcesConfig,
    btc_source,
    ecg_source,
    fetch_ecg_source,
    source_fingerprint,
    watched_source,
)
from pipelines.stages.training import loss_config, run_info, sweep, system_tags, train, train_grid

__all__ = [
    "SCORES",
    "DATASET_SPECS",
    "DATASETS",
    "DatasetSpec",
    "SourcesConfig",
    "StageResult",
    "btc_source",
    "ecg_source",
    "fetch_ecg_source",
    "generate",
    "heartbeats",
    "ingest_btc",
    "ingest_ecg",
    "loss_config",
    "metrics",
    "price_windows",
    "report",
    "run_info",
    "source_fingerprint",
    "sweep",
    "system_tags",
    "train",
    "train_grid",
    "traversals",
    "validate_btc",
    "validate_ecg",
    "watched_source",
]
