"""`python -m pipelines <stage>`: every stage of the pipeline from the command line, as dvc.yaml runs them.

    python -m pipelines ecg-generate | ecg-ingest | ecg-validate | heartbeats
    python -m pipelines btc-generate | btc-ingest | btc-validate | windows
    python -m pipelines ludb-ingest | ludb-validate | ludb-beats       # the annotated real beats (sources.ludb)
    python -m pipelines train --dataset ecg --config b16_c0
    python -m pipelines train-grid --dataset ecg [--config b1_c0 --config b16_c0]   # one vectorised pass
    python -m pipelines traversals | metrics --dataset ecg --config b16_c0
    python -m pipelines evaluate --dataset ecg --config b16_c0      # traversals, then metrics
    python -m pipelines report
    python -m pipelines encode --dataset ecg --input <WFDB dir> [--model champion|VERSION] --out latents.parquet
    torchrun --nproc-per-node 4 -m pipelines train --dataset ecg --config b16_c0   # data-parallel over 4 GPUs

The project root is the working directory (or $BVAE_ROOT); params come from params.yaml (or $BVAE_PARAMS).
Exit status 1 when a stage's blocking check fails (too little good data to go on), 2 on a pipeline error.
"""

from __future__ import annotations

import argparse
import logging
import sys

from pipelines import stages
from pipelines.errors import PipelineError
from pipelines.quarantine import Reject, summarize
from pipelines.workspace import Workspace

log = logging.getLogger("pipelines")

DATA_STAGES = {
    "generate": stages.generate,
    **{name: stage for spec in stages.DATASET_SPECS.values() for name, stage in spec.stages().items()},
}
MODEL_STAGES = ("train", "train-grid", "traversals", "metrics", "evaluate")


def _report(name: str, result: stages.StageResult) -> int:
    log.info("%s -> %s  %s", name, result.output, result.counts)
    if result.rejects:
        log.warning("%s quarantined %d item(s):\n%s", name, len(result.rejects), summarize(result.rejects))
    if result.suite is not None:
        log.info("%s validation (%s):\n%s", name, result.suite.suite, result.suite.as_markdown())
    if not result.passed:
        log.error("%s: blocking check failed (%s); downstream stages must not run", name, result.gate)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__.split("\n")[0])
    parser.add_argument("stage", choices=[*DATA_STAGES, *MODEL_STAGES, "report", "encode"])
    parser.add_argument("--dataset", choices=stages.DATASETS)
    parser.add_argument("--config", action="append", help="sweep config name from params.yaml, e.g. b16_c0")
    parser.add_argument("--force", action="store_true", help="train: retrain even when the partition is up to date")
    parser.add_argument("--input", help="encode: the raw data (a WFDB directory; bar files or one bar file)")
    parser.add_argument("--model", default="champion", help="encode: a registered version number, or champion")
    parser.add_argument("--out", help="encode: the parquet file of codes to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ws = Workspace.from_env()
    world = None  # this process's rank and the number of processes, computed once (torchrun)
    if args.stage in ("train", "train-grid"):
        from pipelines.vae.devices import flush_denormals_in_cpu_pool, init_distributed

        flush_denormals_in_cpu_pool()  # before torch runs parallel work in this process
        world = init_distributed()  # a no-op unless started by torchrun
        if world.size > 1:
            log.info("data-parallel training: process %d of %d", world.rank, world.size)
    try:
        if args.stage in DATA_STAGES:
            return _report(args.stage, DATA_STAGES[args.stage](ws))
        from pipelines.tracking import tracker_for
        from pipelines.tracking_store import set_mlflow_http_retries

        set_mlflow_http_retries()  # MLflow reads its retry settings from the environment only
        tracker = tracker_for(ws.root)
        if args.stage == "report":
            return _report("report", stages.report(ws, tracker))
        if args.stage == "encode":
            return _encode(parser, args, ws, tracker)
        if args.stage == "train-grid" and args.dataset:
            results = stages.train_grid(ws, args.dataset, tracker, args.config, args.force, world)
            return max((_report(f"train {name}", result) for name, result in results.items()), default=0)
        if not (args.dataset and args.config and len(args.config) == 1):
            parser.error(f"{args.stage} needs --dataset and one --config")
        config = args.config[0]
        if args.stage == "train":
            results = stages.train_grid(ws, args.dataset, tracker, [config], args.force, world)
            return _report("train", results[config]) if results else 0  # torchrun: only rank 0 has results
        status = 0
        if args.stage in ("traversals", "evaluate"):
            status = _report("traversals", stages.traversals(ws, args.dataset, config, tracker))
        if args.stage in ("metrics", "evaluate") and not status:
            status = _report("metrics", stages.metrics(ws, args.dataset, config, tracker))
        return status
    except PipelineError as e:
        log.error("%s: %s", args.stage, e)
        return 2


def _encode(parser: argparse.ArgumentParser, args, ws: Workspace, tracker) -> int:
    from pipelines.stages.encode import encode
    from pipelines.storage import write_parquet

    if not (args.dataset and args.input and args.out):
        parser.error("encode needs --dataset, --input and --out")
    table = encode(ws, tracker, args.dataset, args.input, args.model)
    out = write_parquet(args.out, table)
    held = table[table.quarantine_reason.notna()]
    log.info("encode -> %s: %d samples, %d item(s) quarantined", out, len(table) - len(held), len(held))
    if len(held):
        rejects = [Reject(i, r) for i, r in zip(held.item, held.quarantine_reason, strict=True)]
        log.warning("encode quarantined %d item(s) (listed in %s):\n%s", len(held), out, summarize(rejects))
    return 0


if __name__ == "__main__":
    sys.exit(main())
