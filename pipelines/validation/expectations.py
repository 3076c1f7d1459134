"""Run a list of Great Expectations (GX 1.x) expectations on a pandas DataFrame and collect, per row, the
reasons it failed, so a stage can quarantine bad rows instead of dropping them silently.

GX is imported here, lazily (its import costs seconds), with a fresh ephemeral context per run: re-adding a
data source to one context raises. Progress bars are switched off so run logs stay readable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One expectation: a GX expectation class name, its arguments, and the reason shown for a failing row."""

    expectation: str  # e.g. "ExpectColumnValuesToBeBetween"
    kwargs: dict
    reason: str  # e.g. "sampled at another rate than 1000 Hz"


@dataclass
class SuiteResult:
    suite: str
    n_rows: int
    checks: list[dict]  # one per expectation: expectation, column(s), success, unexpected_count
    failing_rows: dict[int, list[str]] = field(default_factory=dict)  # row position -> reasons

    @property
    def success(self) -> bool:
        return all(c["success"] for c in self.checks)

    def as_markdown(self) -> str:
        rows = [
            f"| {c['expectation']} | {c['columns']} | {'pass' if c['success'] else 'FAIL'} | {c['unexpected_count']} |"
            for c in self.checks
        ]
        return "\n".join(["| expectation | column(s) | result | failing rows |", "|---|---|---|---|", *rows])


def run_suite(name: str, frame: pd.DataFrame, checks: list[Check]) -> SuiteResult:
    """Validate `frame` against `checks` with Great Expectations; failing rows are keyed by position."""
    # before the import: GX logs each of its ~200 public functions at INFO as it registers them on import
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    frame = frame.reset_index(drop=True)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas(name)
        .add_dataframe_asset("frame")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    expectations = [getattr(gx.expectations, c.expectation)(**c.kwargs) for c in checks]
    suite = gx.ExpectationSuite(name=name, expectations=expectations)
    validation = batch.validate(suite, result_format="COMPLETE")
    result = SuiteResult(suite=name, n_rows=len(frame), checks=[])
    for check, res in zip(checks, validation.results, strict=True):
        unexpected = res.result.get("unexpected_index_list") or []
        columns = ", ".join(str(v) for k, v in check.kwargs.items() if k.startswith("column"))
        result.checks.append(
            {
                "expectation": check.expectation,
                "columns": columns,
                "success": bool(res.success),
                "unexpected_count": int(res.result.get("unexpected_count") or 0),
            }
        )
        for row in unexpected:
            result.failing_rows.setdefault(int(row), []).append(check.reason)
    log.info(
        "suite %s: %d/%d expectations passed, %d of %d rows failing",
        name,
        sum(c["success"] for c in result.checks),
        len(checks),
        len(result.failing_rows),
        len(frame),
    )
    return result
