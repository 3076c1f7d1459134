"""Partitions of the model assets: dataset x beta/C config (one key per entry of params.yaml `sweep`).

The configs are read once, when the code location loads, from $BVAE_PARAMS or <$BVAE_ROOT or cwd>/params.yaml.
"""

from __future__ import annotations

import dagster as dg

from pipelines.stages import sweep
from pipelines.workspace import DATASETS, Workspace

CONFIGS = [c.name for c in sweep(Workspace.from_env())]

model_partitions = dg.MultiPartitionsDefinition(
    {
        "dataset": dg.StaticPartitionsDefinition(list(DATASETS)),
        "config": dg.StaticPartitionsDefinition(CONFIGS),
    }
)


def partition_parts(context: dg.AssetExecutionContext) -> tuple[str, str]:
    """(dataset, config) of the partition being materialized."""
    keys = context.partition_key.keys_by_dimension
    return keys["dataset"], keys["config"]


# Downstream assets re-materialize when an upstream asset they depend on was updated (Dagster's declarative
# automation; evaluated by the default automation-condition sensor of `dagster dev` or the daemon).
UPDATE_WHEN_UPSTREAM_CHANGES = dg.AutomationCondition.eager()
