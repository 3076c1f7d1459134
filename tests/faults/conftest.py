"""Fixtures shared by the fault cases."""

from __future__ import annotations

import pytest

from pipelines import stages
from pipelines.workspace import Workspace
from tests.conftest import TINY, write_params
from tests.ecg.test_physionet import server  # noqa: F401  (the PhysioNet-like server for test_download.py)

# training cases: 4 epochs with a resume checkpoint after each, so a run can be cut off between two of them
# one seed: these tests are about one model's files and runs (tests/stages/test_training.py covers a partition's seeds)
PARAMS = {**TINY, "train": {**TINY["train"], "epochs": 4, "checkpoint_every": 1, "seeds": 1}}


@pytest.fixture(scope="session")
def ecg_data(tmp_path_factory):
    """data/ of a TINY ECG workspace up to the training set, made once and copied into each test's workspace."""
    root = tmp_path_factory.mktemp("ecg-data")
    ws = Workspace(root, write_params(root, PARAMS))
    for stage in (stages.ingest_ecg, stages.validate_ecg, stages.heartbeats):
        assert stage(ws).passed
    return ws.data
