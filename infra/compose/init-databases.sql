-- One Postgres server, two databases: Dagster's run/event storage and MLflow's backend store.
CREATE DATABASE dagster;
CREATE DATABASE mlflow;
