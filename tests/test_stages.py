"""Stages as the CLI and the assets run them: quarantine files, idempotent training, clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

from pipelines import stages
from pipelines.errors import ConfigError
from pipelines.tracking import tracker_for


@pytest.fixture
def ecg_ws(tiny_ws):
    for stage in (stages.ingest_ecg, stages.validate_ecg, stages.heartbeats):
        assert stage(tiny_ws).passed
    return tiny_ws


def test_each_data_stage_writes_its_quarantine_file(ecg_ws):
    for name in ("ecg_ingest", "ecg_validation", "heartbeats"):
        assert list(pd.read_csv(ecg_ws.quarantine(name)).columns) == ["item", "reason"]


def test_training_again_on_unchanged_inputs_reuses_the_run_and_force_retrains(ecg_ws):
    tracker = tracker_for(ecg_ws.root)
    first = stages.train(ecg_ws, "ecg", "b4_c0", tracker)
    again = stages.train(ecg_ws, "ecg", "b4_c0", tracker)
    assert again.extra["reused"] and again.extra["run_id"] == first.extra["run_id"]
    assert again.md5 == first.md5
    assert len(tracker.client.search_model_versions("name='ecg-beta-vae'")) == 1
    forced = stages.train(ecg_ws, "ecg", "b4_c0", tracker, force=True)
    assert not forced.extra["reused"] and forced.extra["model_version"] == "2"
    assert forced.md5 == first.md5  # seeded training reproduces the weights byte for byte


def test_changed_config_retrains(ecg_ws):
    tracker = tracker_for(ecg_ws.root)
    first = stages.train(ecg_ws, "ecg", "b1_c0", tracker)
    text = ecg_ws.params_path.read_text().replace("epochs: 2", "epochs: 3")
    ecg_ws.params_path.write_text(text)
    second = stages.train(ecg_ws, "ecg", "b1_c0", tracker)
    assert not second.extra["reused"] and second.extra["run_id"] != first.extra["run_id"]
    assert second.counts["epoch"] == 3


def test_unknown_sweep_config_is_named_in_the_error(ecg_ws):
    with pytest.raises(ConfigError, match="no sweep config named 'b9_c9'"):
        stages.train(ecg_ws, "ecg", "b9_c9", tracker_for(ecg_ws.root))
