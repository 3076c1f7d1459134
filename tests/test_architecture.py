"""Layering rules of DESIGN.md, checked on the source: pipelines/ never imports dagster; only tracking.py imports
mlflow (and vae/served.py, the code MLflow logs as each model and runs to serve it); only versioning.py runs
subprocesses (DVC)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


SOURCES = sorted(PIPELINES.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PIPELINES)))
def test_domain_module_respects_layering(path):
    modules = imported_modules(path)
    assert "dagster" not in modules
    if path.relative_to(PIPELINES).as_posix() not in ("tracking.py", "vae/served.py"):
        assert "mlflow" not in modules
    if path.name != "versioning.py":
        assert "subprocess" not in modules


def test_the_rules_see_real_imports():
    assert "mlflow" in imported_modules(PIPELINES / "tracking.py")
    assert "subprocess" in imported_modules(PIPELINES / "versioning.py")
