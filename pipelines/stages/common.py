"""What every stage shares: the StageResult it returns (stages with more to say extend it: TrainResult,
MetricsResult, ReportResult), the locks that keep two runs of the same stage from
writing the same files at once, and the summary of a training set that both segmenting stages return."""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.dataset import TrainingSet
from pipelines.quarantine import Reject
from pipelines.storage import exclusive
from pipelines.validation.expectations import SuiteResult
from pipelines.validation.samples import SampleChecksConfig, train_gate, validate_samples
from pipelines.versioning import file_md5
from pipelines.workspace import Workspace


@dataclass
class StageResult:
    output: Path
    counts: dict = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    suite: SuiteResult | None = None
    passed: bool = True  # the stage's blocking condition (enough good data to go on)
    gate: str = ""  # that condition, observed against its threshold ("34 train samples, need 200")

    @property
    def md5(self) -> str:
        return file_md5(self.output)


@contextlib.contextmanager
def locked(ws: Workspace, names: list[str], what: str):
    """Hold the locks `names` (data/.locks/<name>.lock), taken in sorted order so two holders never deadlock."""
    with contextlib.ExitStack() as stack:
        for name in sorted(set(names)):
            stack.enter_context(exclusive(ws.lock(name), what))
        yield


def data_stage(dataset: str):
    """Run the decorated stage holding the dataset's data lock: two runs of the same data stages (two Dagster
    materializations, a Dagster run beside `dvc repro`) take turns instead of writing the same files at once."""

    def wrap(stage):
        @functools.wraps(stage)
        def run(ws: Workspace, *args, **kwargs):
            with locked(ws, [f"{dataset}-data"], stage.__name__):
                return stage(ws, *args, **kwargs)

        return run

    return wrap


def samples_result(cfg: SampleChecksConfig, name: str, data: TrainingSet, out: Path, rejects) -> StageResult:
    """The result of a stage that wrote training set `data` to `out`: its sample checks (`cfg`, the params.yaml
    section of the dataset's checks) and split counts."""
    suite = validate_samples(name, data, cfg)
    counts = {
        "samples": len(data),
        "train": int((data.split == "train").sum()),
        "test": int((data.split == "test").sum()),
        "length": data.x.shape[1],
    }
    failed = [f"{c['expectation']} on {c['columns']} ({c['unexpected_count']} rows)" for c in suite.checks
              if not c["success"] and c["expectation"] != "min_train_samples"]  # fmt: skip
    gate = train_gate(counts["train"], cfg)
    return StageResult(
        out,
        counts,
        rejects,
        suite,
        passed=suite.success,
        gate="; ".join([gate, *(["failing: " + ", ".join(failed)] if failed else [])]),
    )
