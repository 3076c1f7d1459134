"""Dagster layer: thin assets over pipelines.stages. `dagster dev -m assets` loads `defs`."""

from assets.definitions import defs

__all__ = ["defs"]
