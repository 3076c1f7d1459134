"""Partitions of the model assets: one key per beta/C config (entry of params.yaml `sweep`); each dataset has its
own family of model assets (assets/models.py).

The configs are read once, when the code location loads, from the params file every resource reads too
(`Workspace.from_env()`: $BVAE_PARAMS or <$BVAE_ROOT or cwd>/params.yaml).
"""

from __future__ import annotations

import dagster as dg

from pipelines.errors import ConfigError
from pipelines.workspace import Workspace

_WS = Workspace.from_env()
CONFIGS = [c.name for c in _WS.params.sweep]
if not CONFIGS:
    raise ConfigError(f"{_WS.params_path}: the sweep is empty or missing; the model assets would have no partitions")

config_partitions = dg.StaticPartitionsDefinition(CONFIGS)


# Downstream assets re-materialize when an upstream asset they depend on was updated (Dagster's declarative
# automation; evaluated by the default automation-condition sensor of `dagster dev` or the daemon).
UPDATE_WHEN_UPSTREAM_CHANGES = dg.AutomationCondition.eager()
