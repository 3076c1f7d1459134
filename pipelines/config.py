"""Load one typed config dataclass per stage from its section of params.yaml (the file dvc.yaml reads too), and
the beta/C sweep (section `sweep`, one LossConfig per entry).

Unknown keys are an error, so a typo in params.yaml never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import yaml

from pipelines.errors import ConfigError
from pipelines.vae.regularizers import LossConfig

T = TypeVar("T")


def read_params(path: str | Path) -> dict[str, Any]:
    """The whole params.yaml as a dict; raises ConfigError when it is missing or not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found")
    params = yaml.safe_load(path.read_text())
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(params).__name__}")
    unknown = sorted(set(params) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {unknown}; allowed: {list(SECTIONS)}")
    return params


SECTIONS = (  # every top-level section params.yaml may hold; a misspelt one would silently give defaults
    "sources", "physionet", "coinbase", "synthetic_ecg", "synthetic_btc", "ecg_validation", "beats",
    "heartbeat_checks", "btc_validation", "windows", "window_checks", "train", "sweep", "evaluation", "transfer",
    "operations",
)  # fmt: skip


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


def load_params(path: str | Path, section: str, cls: type[T]) -> T:
    """Section `section` of the params file at `path` as an instance of `cls`."""
    return from_dict(cls, read_params(path).get(section), where=f"{path}:{section}")


def load_sweep(path: str | Path) -> list[LossConfig]:
    """The beta/C configs of section `sweep` of the params file at `path` (a mapping name -> settings), in file
    order; raises ConfigError when the section is missing, empty or not a mapping of mappings."""
    entries = read_params(path).get("sweep")
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"{path}: sweep must map config names to settings, got {entries!r}")
    configs = []
    for name, settings in entries.items():
        where = f"{path}:sweep.{name}"
        if settings is not None and not isinstance(settings, dict):
            raise ConfigError(f"{where}: expected a mapping of settings, got {settings!r}")
        configs.append(from_dict(LossConfig, {**(settings or {}), "name": str(name)}, where=where))
    return configs


def sweep_config(path: str | Path, name: str) -> LossConfig:
    """The sweep config called `name` in the params file at `path`; raises ConfigError when there is none."""
    for cfg in load_sweep(path):
        if cfg.name == name:
            return cfg
    raise ConfigError(f"{path}: no sweep config named {name!r}")
