"""Multi-GPU training through torchrun, launched and followed with Dagster Pipes: the op starts
`torchrun -m assets.torchrun_entry` (one process per GPU, data-parallel), streams rank 0's logs into the run log,
and records a materialization of each `<dataset>_beta_vae_model` partition trained, as the grid job does."""

import sys

import dagster as dg

from assets.models import GPU_POD, MODELS, model_materialization
from assets.resources import TrackingResource, WorkspaceResource
from pipelines import stages
from pipelines.stages import model_stage


class DistributedRequest(dg.Config):
    dataset: str = "ecg"
    configs: list[str] = []  # empty: every config of params.yaml `sweep`
    nproc_per_node: int = 0  # processes (GPUs) on this node; 0: one per visible GPU, or 1 on a CPU
    force: bool = False


@dg.op(pool="gpu", tags={"kind": "pytorch", **GPU_POD})  # on k8s, raise the GPU limit to nproc_per_node
def train_distributed(
    context: dg.OpExecutionContext,
    config: DistributedRequest,
    workspace: WorkspaceResource,
    tracking: TrackingResource,
    pipes: dg.PipesSubprocessClient,
):
    import torch  # used only here, to count the node's GPUs

    ws = workspace.workspace()
    tracker = tracking.tracker(ws.root)
    nproc = config.nproc_per_node or max(torch.cuda.device_count(), 1)
    args = [arg for name in config.configs for arg in ("--config", name)] + (["--force"] if config.force else [])
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "assets.torchrun_entry", "--dataset", config.dataset, *args]  # fmt: skip
    env = {"BVAE_ROOT": str(ws.root), "BVAE_PARAMS": str(ws.params_path), "MLFLOW_TRACKING_URI": tracker.uri}
    invocation = pipes.run(command=command, context=context, env=env)
    [report] = invocation.get_custom_messages()
    dvc = workspace.commit_to_dvc(*(model_stage("train", config.dataset, name) for name in report["trained"]))
    for name in report["configs"]:  # what torchrun trained or found up to date, read back from run.json
        result = stages.trained_result(ws, config.dataset, name, reused=name not in report["trained"])
        yield model_materialization(MODELS[config.dataset].model, name, result, config.dataset, tracking, tracker, dvc)
    context.log.info("%s: %d partition(s) trained on %d process(es)", config.dataset, len(report["trained"]), nproc)
    yield dg.Output(None)


@dg.job(description="train a dataset's beta/C configs data-parallel over the node's GPUs (torchrun, Dagster Pipes)")
def train_distributed_job():
    train_distributed()
