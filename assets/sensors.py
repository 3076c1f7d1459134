"""The inbox sensor: new WFDB records or bar files in a dataset's source directory start that dataset's ingest
run, and nothing for the other datasets. The models of the dataset then follow by declarative automation (their
eager condition sees the new training set), so new ECG data retrain the ECG partitions only.

A dataset is watched when params.yaml `sources` points it at a directory (the inbox, e.g. `sources.ecg:
data/inbox/ecg`); the synthetic, PhysioNet and Coinbase sources are filled by the pipeline itself. The sensor's
cursor holds a fingerprint of each watched directory (pipelines.stages.source_fingerprint), so a re-evaluation
without new files requests nothing, and the run key makes a repeated request for the same files a no-op."""

from __future__ import annotations

import json

import dagster as dg

from assets.data import DATA, SHOWN
from assets.resources import WorkspaceResource
from assets.schedules import OPERATIONS
from pipelines import stages

DATA_JOBS = {
    dataset: dg.define_asset_job(f"{dataset}_data_job", selection=list(chain), description=f"ingest, validate, "
                                 f"cut {SHOWN[dataset].sample}s")
    for dataset, chain in DATA.items()
}  # fmt: skip


@dg.sensor(
    jobs=list(DATA_JOBS.values()),
    minimum_interval_seconds=OPERATIONS.inbox_interval_s,
    default_status=dg.DefaultSensorStatus.RUNNING if OPERATIONS.inbox_sensor else dg.DefaultSensorStatus.STOPPED,
    description="new WFDB records or bar files in a source directory -> that dataset's ingest run",
)
def inbox_sensor(context: dg.SensorEvaluationContext, workspace: WorkspaceResource):
    ws = workspace.workspace()
    seen = json.loads(context.cursor) if context.cursor else {}
    now, requests = {}, []
    for dataset, job in DATA_JOBS.items():
        src = stages.source(ws, dataset)
        if not src.watched or not src.available:  # a directory that is not there yet is looked for again
            continue
        directory = src.directory
        now[dataset] = stages.source_fingerprint(directory, stages.DATASET_SPECS[dataset].source_files)
        if seen.get(dataset) != now[dataset]:
            context.log.info("%s: new or changed files in %s", dataset, directory)
            requests.append(
                dg.RunRequest(run_key=f"{dataset}-{now[dataset]}", job_name=job.name, tags={"inbox": dataset})
            )
    if not now:
        return dg.SkipReason("no dataset reads a directory source (params.yaml sources); nothing to watch")
    if not requests:
        return dg.SensorResult(skip_reason=dg.SkipReason(f"no new files in {', '.join(now)}"), cursor=json.dumps(now))
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(now))


# New data retrains under `make ui` with no one pressing a button: the assets' automation conditions (eager: an
# upstream asset was updated) are evaluated by this sensor, which Dagster would otherwise create switched off.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor",
    target=dg.AssetSelection.all(),
    minimum_interval_seconds=OPERATIONS.inbox_interval_s,
    default_status=dg.DefaultSensorStatus.RUNNING if OPERATIONS.automation else dg.DefaultSensorStatus.STOPPED,
    description="materializes the assets downstream of new data (their automation conditions)",
)
