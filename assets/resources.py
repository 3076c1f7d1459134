"""Resources: where the project lives (root and params.yaml, a DVC project) and where MLflow tracks runs."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from pipelines import versioning
from pipelines.errors import VersioningError
from pipelines.tracking import Tracker, tracker_for
from pipelines.tracking_store import set_mlflow_http_retries
from pipelines.workspace import Workspace

HELD = "dvc_commit_held"  # metadata key: the dvc.yaml stages an asset wrote but did not commit


class WorkspaceResource(dg.ConfigurableResource):
    """The project root whose data/ the assets write, and its params.yaml. When the root is a DVC project, each
    asset commits its outputs to DVC (`dvc_commit`), so that `dvc status` is clean after a Dagster run; with
    `dvc_commit` off, each names the stages it holds back in its metadata (`dvc_commit_held`) for the caller to
    commit."""

    root: str = "."
    params: str = ""  # default: <root>/params.yaml
    dvc_commit: bool = True

    def workspace(self) -> Workspace:
        root = Path(self.root).resolve()
        return Workspace(root=root, params_path=Path(self.params).resolve() if self.params else root / "params.yaml")

    def commit_to_dvc(self, *stages: str) -> dict:
        """Commit the outputs of dvc.yaml's `stages` (what the asset just wrote); metadata saying what happened.
        A failed commit is a warning in the run log, not a failed asset: the data are written either way."""
        root = self.workspace().root
        if not versioning.is_dvc_project(root):
            return {}
        if not self.dvc_commit:
            return {HELD: ", ".join(stages)}
        try:
            versioning.commit(root, list(stages))
        except VersioningError as e:
            dg.get_dagster_logger().warning("outputs not committed to DVC (dvc status will show them): %s", e)
            return {"dvc_commit": f"failed: {e}"}
        return {"dvc_commit": ", ".join(stages)}


class TrackingResource(dg.ConfigurableResource):
    """MLflow: `tracking_uri` empty means $MLFLOW_TRACKING_URI or sqlite:///<root>/mlflow.db."""

    tracking_uri: str = ""
    ui_url: str = ""  # the MLflow UI, for run links in metadata; empty: $MLFLOW_UI_URL or where `make mlflow` serves

    def tracker(self, root: Path) -> Tracker:
        set_mlflow_http_retries()  # MLflow reads its retry settings from the environment only
        return tracker_for(root, self.tracking_uri)

    def run_link(self, tracker: Tracker, run_id: str) -> str:
        base = self.ui_url or os.environ.get("MLFLOW_UI_URL") or "http://127.0.0.1:5000"
        return f"{base.rstrip('/')}/{tracker.run_url(run_id)}"


def default_resources() -> dict:
    """The resources of `make demo` and `make ui`: the project and params file of the environment (the same
    `Workspace.from_env()` the partitions and schedules read), MLflow, and Pipes for torchrun."""
    ws = Workspace.from_env()
    return {
        "workspace": WorkspaceResource(root=str(ws.root), params=str(ws.params_path)),
        # $MLFLOW_TRACKING_URI is read where it is used, not copied into the resource's config: a password in it
        # never shows in the Dagster UI or the run config
        "tracking": TrackingResource(),
        "pipes": dg.PipesSubprocessClient(),  # torchrun for multi-GPU training (assets/distributed.py)
    }
