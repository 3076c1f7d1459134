"""The inbox sensor: a new WFDB record dropped into the ECG source directory starts the ECG ingest run (and no
exchange run); once it has run, automation asks for the ECG model partitions only."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest

from assets.definitions import defs
from assets.partitions import CONFIGS
from assets.resources import TrackingResource, WorkspaceResource
from assets.sensors import inbox_sensor
from tests.conftest import TINY, shared, write_params


def copy_record(record: str, inbox) -> None:
    """One PTB record (header, signal and Frank-lead files) into the inbox, in PTB layout."""
    patient, name = record.split("/")
    (inbox / patient).mkdir(parents=True, exist_ok=True)
    for path in shared("ptbdb", patient).glob(f"{name}.*"):
        shutil.copy2(path, inbox / patient / path.name)


def tick(instance, resources, cursor=None) -> tuple[list[dg.RunRequest], str | None, str | None]:
    with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        result = inbox_sensor(context)
    if isinstance(result, dg.SkipReason):
        return [], cursor, result.skip_message
    skip = result.skip_reason.skip_message if result.skip_reason else None
    return list(result.run_requests or []), result.cursor, skip


@pytest.fixture
def inbox_project(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    inbox = tmp_path / "inbox" / "ecg"
    copy_record("patient001/s0010_re", inbox)
    params = write_params(tmp_path, {**TINY, "sources": {"ecg": str(inbox), "btc": "synthetic"}})
    resources = {
        "workspace": WorkspaceResource(root=str(tmp_path), params=str(params)),
        "tracking": TrackingResource(),
    }
    return inbox, resources


def test_synthetic_sources_are_not_watched(tmp_path):
    params = write_params(tmp_path, TINY)
    resources = {"workspace": WorkspaceResource(root=str(tmp_path), params=str(params))}
    requests, _, skip = tick(dg.DagsterInstance.ephemeral(), resources)
    assert requests == [] and "nothing to watch" in skip


def test_a_new_record_starts_the_ecg_ingest_and_then_the_ecg_models_only(inbox_project):
    inbox, resources = inbox_project
    instance = dg.DagsterInstance.ephemeral()

    # first look: the files are new to the sensor, so it asks for the ECG data run; the next look asks for nothing
    [first], cursor, _ = tick(instance, resources)
    assert first.job_name == "ecg_data_job" and first.tags["inbox"] == "ecg"
    requests, cursor, skip = tick(instance, resources, cursor)
    assert requests == [] and "no new files" in skip

    # the exchange data and the ECG data exist; automation has seen them (its cursor)
    for job in ("btc_data_job", "ecg_data_job"):
        assert defs.resolve_job_def(job).execute_in_process(resources=resources, instance=instance).success
    seen = dg.evaluate_automation_conditions(defs=defs, instance=instance)

    # a new record arrives: one ECG ingest request with a new run key, nothing for the exchange side
    copy_record("patient104/s0306lre", inbox)
    [request], cursor, _ = tick(instance, resources, cursor)
    assert request.job_name == "ecg_data_job" and request.run_key != first.run_key
    run = defs.resolve_job_def(request.job_name).execute_in_process(resources=resources, instance=instance)
    assert run.success
    records = run.asset_materializations_for_node("ecg_raw_records")[0].metadata["records"].value
    assert records == 2  # the new record was ingested beside the first

    # automation: every ECG model partition (and its traversals and metrics), no exchange model
    after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=seen.cursor)
    wanted = {r.key.to_user_string(): r.true_subset for r in after.results if r.true_subset.size}
    assert set(wanted) == {"ecg_beta_vae_model", "ecg_traversals", "ecg_disentanglement_metrics"}
    assert set(wanted["ecg_beta_vae_model"].expensively_compute_partition_keys()) == set(CONFIGS)


def test_run_links_and_paths_name_no_machine(tmp_path, monkeypatch):
    """The MLflow link follows MLFLOW_UI_URL (or the resource's ui_url); a path below the project is shown
    relative to it."""
    from assets.resources import TrackingResource
    from assets.results import shown_path
    from pipelines.tracking import tracker_for

    tracker = tracker_for(tmp_path)
    run_id = tracker.start_run("ecg", "b1_c0", {})
    monkeypatch.setenv("MLFLOW_UI_URL", "https://mlflow.example.org/")
    assert TrackingResource().run_link(tracker, run_id).startswith("https://mlflow.example.org/#/experiments/")
    assert TrackingResource(ui_url="http://h:1").run_link(tracker, run_id).startswith("http://h:1/#/")
    monkeypatch.chdir(tmp_path)
    assert shown_path(tmp_path / "data" / "ecg" / "training_set.npz") == "data/ecg/training_set.npz"
