"""Load one typed config dataclass per stage from its section of params.yaml (the file dvc.yaml reads too).

Unknown keys are an error, so a typo in params.yaml never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import yaml

from pipelines.errors import ConfigError

T = TypeVar("T")


def read_params(path: str | Path) -> dict[str, Any]:
    """The whole params.yaml as a dict; raises ConfigError when it is missing or not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found")
    params = yaml.safe_load(path.read_text())
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(params).__name__}")
    return params


def from_dict(cls: type[T], values: dict[str, Any] | None, where: str = "") -> T:
    """Build dataclass `cls` from `values`, raising ConfigError on keys the dataclass does not have."""
    values = dict(values or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"{where or cls.__name__}: unknown key(s) {unknown}; allowed: {sorted(names)}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where or cls.__name__}: {e}") from e


def load_params(path: str | Path, section: str, cls: type[T]) -> T:
    """Section `section` of the params file at `path` as an instance of `cls`."""
    return from_dict(cls, read_params(path).get(section), where=f"{path}:{section}")
