"""The deployment files of infra/ hang together (no Docker daemon or cluster here to run them): the compose
services and their wiring, secrets only from the environment, and the Helm values' executor and launcher.
infra/compose/dagster.yaml itself is exercised against a real Postgres in tests/test_postgres.py."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO

INFRA = REPO / "infra"


def test_compose_runs_every_service_from_the_code_image_with_secrets_from_the_environment():
    text = (INFRA / "compose" / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert set(services) == {"postgres", "mlflow", "code", "webserver", "daemon"}
    for name in ("mlflow", "code", "webserver", "daemon"):
        assert services[name]["image"] == "betavae-code:latest"
        assert services[name]["build"]["dockerfile"] == "infra/Dockerfile"
        assert (REPO / services[name]["build"]["context"].replace("../..", ".") / "infra" / "Dockerfile").is_file()
    assert (
        services["code"]["command"].startswith("dagster code-server start")
        and "-m assets" in services["code"]["command"]
    )
    assert "dagster-daemon run" in services["daemon"]["command"]
    assert "--backend-store-uri postgresql+psycopg2://" in services["mlflow"]["command"]
    env = services["code"]["environment"]
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000" and env["DAGSTER_PG_URL"].startswith(
        "postgresql+psycopg2"
    )
    # every password is an environment reference, never a literal
    for url in re.findall(r"postgresql\+psycopg2://[^@]+@", text):
        assert re.match(r"postgresql\+psycopg2://postgres:\$\{POSTGRES_PASSWORD[^}]*\}@", url), url
    workspace = yaml.safe_load((INFRA / "compose" / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["grpc_server"]["port"] == 4000


def test_the_deployed_instance_queues_runs_and_limits_the_gpu_pool():
    instance = yaml.safe_load((INFRA / "compose" / "dagster.yaml").read_text())
    assert instance["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert instance["concurrency"]["pools"]["default_limit"] == 1


def test_helm_values_use_the_kubernetes_launcher_and_executor_with_secrets_from_a_secret():
    values = yaml.safe_load((INFRA / "helm" / "values.yaml").read_text())
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert {"name": "BVAE_EXECUTOR", "value": "k8s"} in deployment["env"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "assets"]
    assert deployment["envSecrets"] == [{"name": "betavae-secrets"}]
    assert "BVAE_EXECUTOR=k8s" in values["runLauncher"]["config"]["k8sRunLauncher"]["envVars"]
    assert "postgresqlPassword" not in values["postgresql"]
