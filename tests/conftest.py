"""Shared fixtures: the real data in ../shared/data and a tiny workspace (params.yaml shrunk for speed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BVAE_SHARED_DATA", REPO.parent / "shared" / "data"))

# Small enough that the whole graph trains in seconds, large enough that every stage has real work.
TINY = {
    "synthetic_ecg": {"n_patients": 4, "duration_s": 40.0},
    "synthetic_btc": {"days": 16},  # 128 windows: 25 in the test split, where the metrics are scored
    "heartbeat_checks": {"min_train_samples": 50},
    "window_checks": {"min_train_samples": 20},
    "train": {"epochs": 2, "hidden": [32, 16], "seeds": 2},
}


def shared(*parts: str) -> Path:
    """A path in the real data folder; missing data fails the test (CI has it), it is never skipped."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"real data not found at {path}: the checkout expects ../shared/data (or set BVAE_SHARED_DATA)")
    return path


def ludb_copy(dest: Path, records: tuple[str, ...] = ("data/1", "data/2")) -> Path:
    """`dest` laid out as LUDB (RECORDS, ANNOTATORS, data/<n>.hea/.dat and one annotation file per lead) holding
    `records` copied from the real database; returns `dest`."""
    (dest / "data").mkdir(parents=True, exist_ok=True)
    for record in records:
        for path in shared("ludb", "data").glob(f"{Path(record).name}.*"):
            shutil.copy(path, dest / "data" / path.name)
    (dest / "RECORDS").write_text("".join(f"{r}\n" for r in records))
    shutil.copy(shared("ludb", "ANNOTATORS"), dest / "ANNOTATORS")
    return dest


def write_params(root: Path, overrides: dict, replace: tuple[str, ...] = ()) -> Path:
    """root/params.yaml: the repository's params with `overrides` merged per section (or replacing the sections
    named in `replace`)."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, values in overrides.items():
        params[section] = values if section in replace else {**params.get(section, {}), **values}
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def project_copy(dest: Path) -> Path:
    """The files a fresh clone would have (tracked and not ignored), copied into `dest` with `git init`."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    for name in files:
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    subprocess.run(["git", "init", "-q"], cwd=dest, check=True)
    return dest


@pytest.fixture
def tiny_ws(tmp_path, monkeypatch):
    """A Workspace in a temporary directory with the TINY params; MLflow tracks into it."""
    from pipelines.workspace import Workspace

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    return Workspace(root=tmp_path, params_path=write_params(tmp_path, TINY))


# --- the fault suite's summary line (tests/faults): every test marked `fault` is one injected fault ------------
# The outcome is attached to the test's report where it ran (a pytest-xdist worker or this process) and counted
# where reports are logged in the main process, so the line is right with `-n 2` as without.

FAULT_COUNTS: dict[str, int] = {"tried": 0, "handled": 0, "lost": 0, "corrupt": 0}
FAULT_AREAS: dict[str, int] = {}


def pytest_configure(config):
    from pipelines.tracking_store import set_mlflow_http_retries

    config.addinivalue_line("markers", "fault(area): one injected fault (area: ecg, exchange, training, tracking)")
    set_mlflow_http_retries()  # as the entry points do: a test's tracker retries a dead server briefly


# Files of a minute or more, longest first (measured: `make test PYTEST_ADDOPTS=--durations=0`, 2026-12-07), started
# first. With `--dist loadfile` a file runs whole on one worker, and with `--no-loadscope-reorder` (the Makefile's)
# files go out in collection order: a 6-minute file collected last keeps one worker busy after the other has run out
# of work. Only the order changes.
LONG_FILES = (
    "test_cli.py", "assets/test_materialize.py", "test_dvc.py", "faults/test_tracking.py", "test_benchmarks.py",
    "test_webserver.py", "faults/test_training.py", "test_mlflow_server.py",
)  # fmt: skip


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    here = Path(__file__).parent
    items.sort(key=lambda item: rank.get(item.path.relative_to(here).as_posix(), len(rank)))  # stable: files stay whole


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    from tests.faults.harness import DataCorrupt, DataLost

    report = yield
    marker = item.get_closest_marker("fault")
    counted = report.when == "call" or (report.when == "setup" and not report.passed)
    if marker is not None and counted and not report.skipped:
        outcome = "failed"
        if report.passed:
            outcome = "handled"
        elif call.excinfo is not None and call.excinfo.errisinstance(DataLost):
            outcome = "lost"
        elif call.excinfo is not None and call.excinfo.errisinstance(DataCorrupt):
            outcome = "corrupt"
        report.user_properties.append(("fault", (marker.args[0] if marker.args else "other", outcome)))
    return report


def pytest_runtest_logreport(report):
    if os.environ.get("PYTEST_XDIST_WORKER"):  # a worker: the main process counts the report it forwards
        return
    for key, value in report.user_properties:
        if key == "fault":
            area, outcome = value
            FAULT_COUNTS["tried"] += 1
            FAULT_AREAS[area] = FAULT_AREAS.get(area, 0) + 1
            if outcome in FAULT_COUNTS:
                FAULT_COUNTS[outcome] += 1


def pytest_terminal_summary(terminalreporter):
    if FAULT_COUNTS["tried"]:
        c = FAULT_COUNTS
        areas = ", ".join(f"{area} {n}" for area, n in sorted(FAULT_AREAS.items()))
        terminalreporter.write_line(
            f"faults: {c['tried']} tried, {c['handled']} handled, {c['lost']} lost, {c['corrupt']} corrupt ({areas})"
        )
