"""The pipeline's stages, each one call from params.yaml to files under data/: what `python -m pipelines
<stage>` (dvc.yaml) and the Dagster assets both run, so the two can never drift apart.

Every stage reads its config from the workspace's params (`ws.params`, params.yaml read once), calls the domain
functions, writes its outputs atomically and returns a StageResult (output path, counts, quarantined items,
validation suite) that the caller turns into log lines or asset metadata; stages with more to say return a typed
extension of it (TrainResult, MetricsResult, ReportResult). One module per subject: `sources` (where raw data comes
from), `ecg`, `ludb` and `btc` (each dataset's ingest, validate and segment stages), `datasets` (one DatasetSpec per
dataset, the DVC stage names, and the generate stage over them), `training`, `evaluation`, `report`, `drift` (the
champion's codes of the data as now ingested, against its training split) and `encode` (the CLI's); `common`
holds the result type and the locks they share. Import the stages from here (`from pipelines import stages`).
"""

from pipelines.stages.btc import ingest_btc, price_windows, validate_btc
from pipelines.stages.common import StageResult
from pipelines.stages.datasets import DATASET_SPECS, DATASETS, DatasetSpec, available, generate, model_stage
from pipelines.stages.drift import DriftResult, latent_scores
from pipelines.stages.ecg import heartbeats, ingest_ecg, validate_ecg
from pipelines.stages.evaluation import Figures, MetricsResult, metrics, traversals
from pipelines.stages.ludb import ludb_beats, ludb_ingest, ludb_validate
from pipelines.stages.report import SCORES, ReportFigures, ReportResult, report
from pipelines.stages.sources import Source, fetch, source, source_fingerprint
from pipelines.stages.trained import TrainResult, run_info, trained_result
from pipelines.stages.training import system_tags, train, train_grid

__all__ = [
    "SCORES",
    "DATASET_SPECS",
    "DATASETS",
    "DatasetSpec",
    "DriftResult",
    "Figures",
    "MetricsResult",
    "ReportFigures",
    "ReportResult",
    "Source",
    "StageResult",
    "TrainResult",
    "available",
    "fetch",
    "generate",
    "heartbeats",
    "ingest_btc",
    "ingest_ecg",
    "latent_scores",
    "ludb_beats",
    "ludb_ingest",
    "ludb_validate",
    "metrics",
    "model_stage",
    "price_windows",
    "report",
    "run_info",
    "source",
    "source_fingerprint",
    "system_tags",
    "train",
    "train_grid",
    "trained_result",
    "traversals",
    "validate_btc",
    "validate_ecg",
]
