"""How params.yaml becomes typed config: `read_params` parses the file and checks its sections, `from_dict` fills
one section's dataclass. `pipelines.params.Params` uses them to hold the whole file, read once per process.

Unknown keys are an error, so a typo in params.yaml never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import yaml

from pipelines.errors import ConfigError

T = TypeVar("T")


def read_params(path: str | Path, text: str, sections: tuple[str, ...]) -> dict[str, Any]:
    """The params file `path` (its contents `text`) as a dict; raises ConfigError when it is not a mapping or has
    a section not in `sections` (a misspelt one would silently give defaults)."""
    params = yaml.safe_load(text)
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(params).__name__}")
    unknown = sorted(set(params) - set(sections))
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {unknown}; allowed: {list(sections)}")
    return params


def _check_type(value: Any, default: Any, key: str, where: str) -> Any:
    """`value` checked against the type of the field's default (ints pass for floats, lists become tuples)."""
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(value, bool) and isinstance(default, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float)
        value = float(value) if ok else value
    elif isinstance(default, int | str):
        ok = isinstance(value, type(default))
    elif isinstance(default, tuple):
        ok = isinstance(value, list | tuple)
        value = tuple(value) if ok else value
    else:
        ok = True
    if not ok:
        raise ConfigError(f"{where}.{key}: {value!r} is not a {type(default).__name__}")
    return value


def from_dict(cls: type[T], values: dict[str, Any] | None, where: str = "") -> T:
    """Build dataclass `cls` from `values`, raising ConfigError on keys the dataclass does not have and on values
    whose type differs from the field default's."""
    where = where or cls.__name__
    if values is not None and not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping of settings, got {values!r}")
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(fields)}")
    for key, value in values.items():
        default = fields[key].default
        if default is not dataclasses.MISSING:
            values[key] = _check_type(value, default, key, where)
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from e
