"""Multi-process training through torchrun and Dagster Pipes, here with two CPU processes (gloo): the job records
the partition's materialization, rank 0's log lines reach the Dagster run log, and data-parallel training ends
where training in one process ends."""

from __future__ import annotations

import dagster as dg
import numpy as np
import torch

from assets.definitions import defs
from assets.models import MODELS
from assets.resources import TrackingResource, WorkspaceResource
from pipelines import stages
from pipelines.dataset import TrainingSet
from pipelines.vae.checkpoints import load_checkpoint
from pipelines.vae.trainer import train_vae

CONFIG = "b16_c0"  # a beta-VAE: its loss is linear in the batch mean, so averaging the shards' gradients is exact


def test_torchrun_through_pipes_trains_like_one_process(tiny_ws):
    for stage in (stages.ingest_ecg, stages.validate_ecg, stages.heartbeats):
        assert stage(tiny_ws).passed
    resources = {
        "workspace": WorkspaceResource(root=str(tiny_ws.root), params=str(tiny_ws.params_path)),
        "tracking": TrackingResource(),
        "pipes": dg.PipesSubprocessClient(),
    }
    instance = dg.DagsterInstance.ephemeral()
    run_config = {
        "ops": {"train_distributed": {"config": {"dataset": "ecg", "configs": [CONFIG], "nproc_per_node": 2}}}
    }
    result = defs.get_job_def("train_distributed_job").execute_in_process(
        run_config=run_config, resources=resources, instance=instance
    )
    assert result.success
    assert instance.get_materialized_partitions(MODELS["ecg"].model.key) == {CONFIG}
    [mat] = [e.materialization for e in result.get_asset_materialization_events()]
    assert mat.metadata["reused_previous_run"].value is False
    logs = [e.message for e in instance.all_logs(result.run_id)]
    assert any("data-parallel training on 2 process(es)" in m for m in logs)  # reported by rank 0 through Pipes

    distributed, ckpt = load_checkpoint(tiny_ws.checkpoint("ecg", CONFIG, 0))
    x = TrainingSet.load(tiny_ws.heartbeats).part("train").x
    alone, history = train_vae(x, tiny_ws.params.train, tiny_ws.params.loss_config(CONFIG))
    np.testing.assert_allclose([h["loss"] for h in ckpt["history"]], [h["loss"] for h in history], rtol=1e-3)
    for (name, a), b in zip(distributed.state_dict().items(), alone.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-4), f"{name} differs by {(a - b).abs().max():.2e}"
