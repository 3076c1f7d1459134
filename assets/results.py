"""Turn a pipeline StageResult into what Dagster shows: metadata, a data version (the DVC md5 of the output)
and, where the stage validated its data, the asset check result."""

from __future__ import annotations

import base64
from pathlib import Path

import dagster as dg

from pipelines.quarantine import summarize
from pipelines.stages import StageResult


def _value(v):
    return v if isinstance(v, int | float | str | bool) else str(v)


def shown_path(path: Path) -> str:
    """`path` relative to the working directory (the project root under make demo / make ui) when it lies below
    it: metadata that names no machine's folders."""
    path = Path(path).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def metadata(result: StageResult) -> dict:
    md = {k: _value(v) for k, v in result.counts.items()}
    md["path"] = dg.MetadataValue.path(shown_path(result.output))
    if result.output.is_file():
        md["dvc_md5"] = result.md5
    md["quarantined"] = len(result.rejects)
    if result.rejects:
        md["quarantine"] = dg.MetadataValue.md(summarize(result.rejects))
    return md


def check_result(result: StageResult, check_name: str) -> dg.AssetCheckResult:
    suite = result.suite
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=result.passed,
        description=result.gate,
        metadata={
            "blocking_check": result.gate,
            "suite": suite.suite,
            "rows": suite.n_rows,
            "rows_failing": len(suite.failing_rows),
            "all_expectations_met": suite.success,
            "expectations": dg.MetadataValue.md(suite.as_markdown()),
        },
    )


def materialize_result(result: StageResult, check_name: str | None = None, **extra) -> dg.MaterializeResult:
    return dg.MaterializeResult(
        metadata={**metadata(result), **extra},
        data_version=dg.DataVersion(result.md5) if result.output.is_file() else None,
        check_results=[check_result(result, check_name)] if check_name else None,
    )


def image_md(path: Path) -> dg.MetadataValue:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return dg.MetadataValue.md(f"![{Path(path).name}](data:image/png;base64,{data})")
