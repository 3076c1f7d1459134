"""A tiny workspace whose ECG data stages have run (most stage tests train or score on it)."""

import pytest

from pipelines import stages


@pytest.fixture
def ecg_ws(tiny_ws):
    for stage in (stages.ingest_ecg, stages.validate_ecg, stages.heartbeats):
        assert stage(tiny_ws).passed
    return tiny_ws
