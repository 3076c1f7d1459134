"""The graph materialized once per test process in a tiny workspace (params.yaml shrunk for speed), shared by the
modules that look at what it made: test_materialize (data, models, report), test_served (registered models,
serving, encode) and test_explorer_drift (the explorer pages, latent scores and drift)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from assets.demo import materialize_all
from assets.resources import TrackingResource, WorkspaceResource
from pipelines.tracking import Tracker
from pipelines.vae.checkpoints import load_checkpoint


@pytest.fixture(scope="package")
def materialized(tmp_path_factory):
    """Materialize the full graph once in a temporary workspace; yields (workspace, run results)."""
    from tests.conftest import TINY, write_params

    root = tmp_path_factory.mktemp("graph")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        resources = {
            "workspace": WorkspaceResource(root=str(root), params=str(write_params(root, TINY))),
            "tracking": TrackingResource(),
        }
        runs = materialize_all(resources)
        yield resources["workspace"].workspace(), runs


def champion_means(ws, tracker: Tracker, x: np.ndarray) -> np.ndarray:
    """The posterior means of `x` under the ECG champion's checkpoint, as the pipeline computes them."""
    version = tracker.client.get_model_version_by_alias("ecg-beta-vae", "champion")
    model, _ = load_checkpoint(ws.checkpoint("ecg", version.tags["config"], int(version.tags["seed"])))
    with torch.no_grad():
        return model.encode(torch.as_tensor(x))[0].numpy()
