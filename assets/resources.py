"""Resources: where the project lives (root and params.yaml) and where MLflow tracks runs."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from pipelines.tracking import Tracker, tracker_for
from pipelines.workspace import Workspace


class WorkspaceResource(dg.ConfigurableResource):
    """The project root whose data/ the assets write, and its params.yaml."""

    root: str = "."
    params: str = ""  # default: <root>/params.yaml

    def workspace(self) -> Workspace:
        root = Path(self.root).resolve()
        return Workspace(root=root, params_path=Path(self.params).resolve() if self.params else root / "params.yaml")


class TrackingResource(dg.ConfigurableResource):
    """MLflow: `tracking_uri` empty means $MLFLOW_TRACKING_URI or sqlite:///<root>/mlflow.db."""

    tracking_uri: str = ""
    ui_url: str = "http://127.0.0.1:5000"  # where `make mlflow` serves the UI, for run links in metadata

    def tracker(self, root: Path) -> Tracker:
        return tracker_for(root, self.tracking_uri)


def default_resources() -> dict:
    return {
        "workspace": WorkspaceResource(root=os.environ.get("BVAE_ROOT", ".")),
        "tracking": TrackingResource(tracking_uri=os.environ.get("MLFLOW_TRACKING_URI", "")),
    }
