"""What torchrun starts in each process for `train_distributed_job`: the training stage, data-parallel over the
processes (pipelines.vae.devices.init_distributed). Rank 0 talks to Dagster through Pipes: its log lines reach the
run log and it reports which partitions it trained; the other ranks train alongside and report nothing.

    torchrun --standalone --nproc-per-node 4 -m assets.torchrun_entry --dataset ecg [--config b16_c0 ...] [--force]
"""

from __future__ import annotations

import argparse
import logging

from dagster_pipes import open_dagster_pipes

from pipelines import stages
from pipelines.tracking import tracker_for
from pipelines.tracking_store import set_mlflow_http_retries
from pipelines.vae.devices import flush_denormals_in_cpu_pool, init_distributed
from pipelines.workspace import Workspace


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=stages.DATASETS, required=True)
    parser.add_argument("--config", action="append", help="sweep config (default: the whole sweep)")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    flush_denormals_in_cpu_pool()  # before torch runs parallel work in this process
    set_mlflow_http_retries()  # MLflow reads its retry settings from the environment only
    world = init_distributed()
    ws = Workspace.from_env()

    def train() -> dict:
        return stages.train_grid(ws, args.dataset, tracker_for(ws.root), args.config, args.force, world)

    if world.rank != 0:
        train()
        return
    with open_dagster_pipes() as pipes:
        pipes.log.info(f"{args.dataset}: data-parallel training on {world.size} process(es)")
        results = train()
        trained = [name for name, result in results.items() if not result.reused]
        pipes.report_custom_message({"trained": trained, "configs": list(results), "world_size": world.size})


if __name__ == "__main__":
    main()
