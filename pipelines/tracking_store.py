"""The MLflow store, without MLflow: where it is, whether it answers and how our runs are laid out in it.
pipelines/tracking.py, the one module that imports MLflow, makes the calls.

The tracking URI defaults to `sqlite:///<root>/mlflow.db` ($MLFLOW_TRACKING_URI points elsewhere). A password in it
(`postgresql://user:pw@host/db`) is masked in every log line, error message and file (`redact`, `scrub`).

Requests to a tracking server are retried a few times with back-off instead of MLflow's default of minutes. MLflow
reads its retry settings (MLFLOW_HTTP_REQUEST_MAX_RETRIES, MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR) from the environment
at each request and takes them from nowhere else, so the entry points call `set_mlflow_http_retries` once, before
their first tracker, rather than a tracker changing the environment behind its caller. `check_server` gives a
server that does not answer its health check the same retries, then fails with a TrackingError before any training.

Layout: one experiment and one registered model per dataset, both `<dataset>-beta-vae` (`model_name`), tagged so
that MLflow's UI shows them as training runs; nested params and metrics are named by their path (`train.epochs`,
`flatten`). A run records the host and process that trains it (`owner_tags`); one left RUNNING by a process of this
host that is gone is an orphan (`orphaned`), which the next training of its partition ends. A run from another host
is never one: its process cannot be checked from here.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pipelines.errors import TrackingError
from pipelines.storage import process_alive

log = logging.getLogger(__name__)

# MLflow 3's UI opens an experiment without a kind on its GenAI (traces) page, empty for training runs; this kind
# opens it on the runs table, with their metrics and charts. Where the UI shows its GenAI / Model training switch
# (3.17), the switch decides instead: links carry UI_VIEW, which sets it (the browser then keeps it).
EXPERIMENT_KIND = "mlflow.experimentKind"
EXPERIMENT_TAGS = {EXPERIMENT_KIND: "custom_model_development"}
UI_VIEW = "workflowType=machine_learning"
# what the runs table shows as their source: the entry point that trains (the git commit comes with system_tags)
SOURCE_TAGS = {"mlflow.source.type": "LOCAL", "mlflow.source.name": "pipelines.stages.training"}

# ours, where the environment does not set them (MLflow's own: 7 retries, factor 2, minutes against a dead server)
HTTP_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "4", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}


def set_mlflow_http_retries() -> None:
    """Put HTTP_RETRIES into this process's environment, where MLflow reads them, unless already set there (a
    setting of the user's, or of a test, wins). Child processes inherit them. Entry points call it before their
    first tracker; calling it again changes nothing."""
    for name, value in HTTP_RETRIES.items():
        os.environ.setdefault(name, value)


def _http_retries() -> tuple[int, float]:
    """(retries, back-off factor in s): MLflow's settings in the environment, else HTTP_RETRIES."""
    env = {name: os.environ.get(name) or default for name, default in HTTP_RETRIES.items()}
    return int(env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]), float(env["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"])


def model_name(dataset: str) -> str:
    """The experiment and the registered model of `dataset`."""
    return f"{dataset}-beta-vae"


def owner_tags() -> dict[str, str]:
    """The tags that say which process of which host a run belongs to: this one."""
    return {"host": socket.gethostname(), "pid": str(os.getpid())}


def orphaned(tags: dict[str, str]) -> bool:
    """Whether the run with `tags` belongs to a process of this host that no longer exists (a run whose process is
    unknown is not: it is left alone)."""
    pid = tags.get("pid") or ""
    return tags.get("host") == socket.gethostname() and pid.isdigit() and not process_alive(int(pid))


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested dicts as one dict keyed by path: {"train": {"epochs": 4}} -> {"train.epochs": 4}."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= flatten(v, f"{key}.")
        else:
            out[key] = v
    return out


def default_tracking_uri(root: str | Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(root).resolve() / 'mlflow.db'}"


def password(uri: str) -> str | None:
    """The password in `uri`, if any."""
    try:
        return urlsplit(uri).password
    except ValueError:  # not a URL (a bad port, say): nothing to mask
        return None


def redact(uri: str) -> str:
    """`uri` with its password (if any) replaced by ***, fit for logs, errors and files."""
    secret = password(uri)
    if not secret:
        return uri
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{secret}@", ":***@", 1)))


def scrub(text: str, uri: str) -> str:
    """`text` with the password of tracking URI `uri` masked wherever it appears."""
    secret = password(uri)
    return text.replace(uri, redact(uri)).replace(secret, "***") if secret else text


def check_server(uri: str) -> None:
    """Fail fast, before any training, when the tracking server at `uri` (http, https) does not answer its health
    check after the retries MLflow's requests get. Raises TrackingError naming the (masked) URI."""
    import requests

    retries, backoff_s = _http_retries()
    for attempt in range(retries + 1):  # as MLflow retries its own requests: a restarting server gets time
        try:
            requests.get(f"{uri.rstrip('/')}/health", timeout=10).raise_for_status()
            return
        except requests.RequestException as e:
            error = e
            if attempt < retries:
                log.warning("MLflow tracking server %s: %s; retrying", redact(uri), type(e).__name__)
                time.sleep(backoff_s * 2**attempt)
    reason = scrub(f"{type(error).__name__}: {error}", uri)[:300]
    raise TrackingError(
        f"MLflow tracking server {redact(uri)} is not reachable ({reason}); start it, or set "
        "MLFLOW_TRACKING_URI to one that runs (unset: a local sqlite store)"
    ) from error
