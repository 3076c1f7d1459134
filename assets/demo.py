"""`make demo`: materialize every asset of every dataset whose source is there (the embedded synthetic ECG and BTC
data; LUDB when params.yaml's sources.ludb directory exists), then print where the report is. Runs are recorded
in the Dagster instance of $DAGSTER_HOME (the Makefile sets .dagster/), so `make ui` shows them afterwards.

    python -m assets.demo
"""

import logging
import sys
import time

import dagster as dg

from assets.data import DATA
from assets.definitions import ALL_ASSETS
from assets.drift import LATENT_SCORES
from assets.models import MODELS, sweep_report, train_grid_job
from assets.partitions import CONFIGS
from assets.recovery import release_dead_runs
from assets.resources import HELD, WorkspaceResource, default_resources
from pipelines import stages


def materialize_all(resources: dict, instance: dg.DagsterInstance | None = None, partition_keys=None) -> list:
    """Materialize the data assets, train every (or the given) config x seed of each dataset whose source is there
    (pipelines.stages.available) in one vectorised pass per dataset (`train_grid_job`, which records a
    materialization of every model partition it trained), then each config partition's evaluation assets
    (traversals and metrics), then the report, then the champions' latent scores (with their drift check). Returns
    the results of every run; raises if one fails.

    The assets' DVC commits are held back and made in one `dvc commit` after the report: one DVC process instead
    of one per asset (~1.3 s each; 57 stages for 5 configs x 3 datasets), and after a whole run one reading of
    dvc.yaml instead of one per stage (pipelines.versioning.commit)."""
    workspace = resources["workspace"]
    held = {**resources, "workspace": WorkspaceResource(root=workspace.root, params=workspace.params, dvc_commit=False)}
    datasets = stages.available(workspace.workspace())
    skipped = sorted(set(stages.DATASETS) - set(datasets))
    if skipped:
        logging.getLogger("assets.demo").info("no source for %s (params.yaml sources): left out", ", ".join(skipped))
    data = [asset for d in datasets for asset in DATA[d]]
    evaluation = [asset for d in datasets for asset in (MODELS[d].traversals, MODELS[d].metrics)]
    runs = [dg.materialize(ALL_ASSETS, selection=data, resources=held, instance=instance)]
    keys = partition_keys or CONFIGS
    grid = {"ops": {"train_sweep_grid": {"config": {"configs": list(keys), "datasets": list(datasets)}}}}
    runs.append(train_grid_job.execute_in_process(run_config=grid, resources=held, instance=instance))
    for i, key in enumerate(keys, 1):
        logging.getLogger("assets.demo").info("config %d/%d: %s", i, len(keys), key)
        runs.append(
            dg.materialize(ALL_ASSETS, selection=evaluation, partition_key=key, resources=held, instance=instance)
        )
    try:
        runs.append(dg.materialize(ALL_ASSETS, selection=[sweep_report], resources=held, instance=instance))
    finally:  # what the assets wrote (the report's too, unless it failed), as each names it in its metadata
        held_back = held_stages(runs)
        if held_back:  # (none outside a DVC project; and `dvc commit` without stages would commit every stage)
            workspace.commit_to_dvc(*held_back)  # a failure is a warning there: the data are written either way
    scores = [LATENT_SCORES[d] for d in datasets]  # the champions' codes of the data, and their drift check
    runs.append(dg.materialize(ALL_ASSETS, selection=scores, resources=resources, instance=instance))
    return runs


def held_stages(runs: list) -> list[str]:
    """The dvc.yaml stages whose commit the runs' materializations held back, each once, in the order written."""
    events = [event for run in runs for event in run.get_asset_materialization_events()]
    named = [event.materialization.metadata.get(HELD) for event in events]
    return list(dict.fromkeys(stage for value in named if value for stage in value.value.split(", ")))


def main() -> int:
    # Only the assets' own lines (this module's, assets.recovery's) go to the terminal directly; the pipelines'
    # progress reaches it through Dagster's console logger (infra/dagster.yaml manages the `pipelines` loggers),
    # so nothing prints twice.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger("assets").addHandler(handler)
    logging.getLogger("assets").setLevel(logging.INFO)
    logging.getLogger("assets").propagate = False  # a root handler (set up by a library) would print them twice
    logging.getLogger("pipelines").propagate = False  # a library's root handler would print them a second time
    t0 = time.perf_counter()
    resources = default_resources()
    instance = dg.DagsterInstance.get()
    release_dead_runs(instance)  # runs of a killed earlier demo would hold the gpu pool's slot forever
    materialize_all(resources, instance=instance)
    report = resources["workspace"].workspace().report_dir / "index.html"
    print(f"\nDemo finished in {time.perf_counter() - t0:.0f} s. Report: {report}")
    print("Dagster UI: make ui    MLflow UI: make mlflow")
    return 0


if __name__ == "__main__":
    sys.exit(main())
