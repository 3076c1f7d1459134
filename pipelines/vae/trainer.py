"""Training of beta-VAEs: one config, or a whole sweep of configs in one vectorised pass (`StackedVAE`).

The data live as one normalised tensor on the device and are sliced per batch (no DataLoader over in-memory
tensors). Every config of a grid sees the same batches (one shuffle stream seeded by `train.seed`) and draws its
reparameterisation noise from its own stream, seeded by `train.seed` and its name, one (N, D) draw per epoch; so a
config's result does not depend on the grid it was trained in, and `train_vae` is `train_grid` with one config.
One step (pipelines.vae.stepper) sums the G models' losses, autograd gives every model the gradient of its own loss,
and PyTorch's fused Adam steps all of them. On CUDA the whole step (forward, backward, Adam) is captured once as a
CUDA graph and replayed. Optional: bf16 autocast of the matrix multiplies (`train.amp`) and torch.compile of the
forward and loss (`train.compile`); `make bench` measures them (benchmarks/README.md).

`train_grid` reads top to bottom in phases: check the inputs -> build the grid (models, optimizer, data on the
device, RNG streams) -> resume from a checkpoint -> per epoch (shuffle and noise -> per batch a step -> epoch
metrics -> log, checkpoint, callback) -> return each member's model and history, keyed by (config name, seed).
Metrics reach the caller through `on_epoch((config, seed), metrics)`; the training stage passes the MLflow logger,
a test passes a list's append.
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from pipelines.errors import ConfigError, TrainingError
from pipelines.vae.checkpoints import read_resume, resume_key, write_resume
from pipelines.vae.config import TrainConfig
from pipelines.vae.devices import (
    SINGLE,
    World,
    flush_denormals_in_cpu_pool,
    flushed_denormals,
    pick_device,
    pool_flushes_denormals,
)
from pipelines.vae.losses import GridLoss
from pipelines.vae.model import BetaVAE, ModelConfig, StackedVAE, init_models
from pipelines.vae.regularizers import LossConfig, anneal_progress, target_capacity
from pipelines.vae.stepper import Stepper, epoch_metrics

log = logging.getLogger(__name__)

Member = tuple[str, int]  # (config name, seed): one model of a grid
EpochCallback = Callable[[Member, dict], None]


class GridResult(dict):
    """What a grid trained: {(config, seed): (model, history)} of the members that finished, and `failed`:
    {(config, seed): reason} of those whose loss became non-finite (diverged), which are not in the dict."""

    def __init__(self, trained: dict, failed: dict[Member, str]):
        super().__init__(trained)
        self.failed = failed


def noise_seed(seed: int, name: str) -> int:
    """The seed of a config's reparameterisation-noise stream: fixed by the run seed and the config's name."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % 2**63


def train_vae(
    x_train: np.ndarray,
    cfg: TrainConfig,
    loss_cfg: LossConfig,
    on_epoch: Callable[[dict], None] | None = None,
    resume_path: str | Path | None = None,
) -> tuple[BetaVAE, list[dict]]:
    """Train one BetaVAE on samples `x_train` (N, L) in data units: `train_grid` with one config."""
    callback = None if on_epoch is None else (lambda _, metrics: on_epoch(metrics))
    trained = train_grid(x_train, cfg, [loss_cfg], callback, resume_path, seeds=[cfg.seed])
    if trained.failed:
        raise TrainingError(next(iter(trained.failed.values())))
    [(model, history)] = trained.values()
    return model, history


def train_grid(
    x_train: np.ndarray,
    cfg: TrainConfig,
    loss_cfgs: list[LossConfig],
    on_epoch: EpochCallback | None = None,
    resume_path: str | Path | None = None,
    seeds: Sequence[int] | None = None,
    world: World = SINGLE,
) -> GridResult:
    """Train one BetaVAE per entry of `loss_cfgs` and seed of `seeds` (default: `cfg.seed_list`) on `x_train`
    (N, L), all in one vectorised pass; returns each model (CPU, eval mode) with its per-epoch metrics, keyed by
    (config name, seed), configs first. A seed sets a model's initial weights and its noise stream; every member
    sees the batches in the order of `cfg.seed` (so a grid member of seed s is not the model a solo run with
    `cfg.seed` = s trains: that one also shuffles by s). A member whose loss becomes non-finite fails alone: it is
    listed in the result's `failed` with its reason and the others train on (the members share no weights and
    their losses are summed, so its NaN reaches no other gradient). Raises TrainingError on empty or non-finite
    data, or when every member failed. Under torchrun, `world` is this process's rank and the number of
    processes (pipelines.vae.devices.init_distributed): each steps on its share of every batch.

    With `resume_path`, a checkpoint (weights, optimizer, RNG streams, step, histories) is written there every
    `cfg.checkpoint_every` epochs, and a run that finds one from the same configs and data continues from it: a
    killed run ends with the same weights as an uninterrupted one; the restored epochs' metrics are passed to
    `on_epoch` again first (a resumed run is logged as a new MLflow run, which then holds the whole history). The
    file is removed when training ends; an unreadable one is moved aside and training starts afresh."""
    seeds = _checked(x_train, loss_cfgs, list(seeds) if seeds else cfg.seed_list)
    flush_denormals_in_cpu_pool()  # a no-op when the entry point did it, as it should, before any torch work
    grid = _Grid.build(x_train, cfg, loss_cfgs, seeds, world)
    if resume_path is not None:
        _resume(grid, resume_path, on_epoch)
    stepper = Stepper(grid.net, grid.opt, grid.data, grid.loss, cfg, grid.anneal_steps, grid.step, world.size)
    if grid.graphs:
        stepper.capture()
    _log_start(grid)
    with flushed_denormals(grid.device):
        _warn_unless_pool_flushes(grid.device)
        for epoch in range(grid.first_epoch, cfg.epochs + 1):
            sums, seconds = _train_epoch(grid, stepper)
            _record_epoch(grid, sums, epoch, seconds)
            if resume_path is not None and cfg.checkpoint_every and epoch % cfg.checkpoint_every == 0:
                write_resume(resume_path, grid.resume_state(epoch))
            if on_epoch is not None:
                for key, history in zip(grid.keys, grid.histories, strict=True):
                    if key not in grid.failed:
                        on_epoch(key, history[-1])
    if resume_path is not None:
        Path(resume_path).unlink(missing_ok=True)
    done = {key: (grid.net.unstack(g), grid.histories[g]) for g, key in enumerate(grid.keys) if key not in grid.failed}
    return GridResult(done, dict(grid.failed))


def _checked(x_train: np.ndarray, loss_cfgs: list[LossConfig], seeds: list[int]) -> list[int]:
    """`seeds`, once the data, configs and seeds are known to make a grid; raises TrainingError or ConfigError."""
    if len(x_train) < 2 or x_train.ndim != 2 or not np.isfinite(x_train).all():
        raise TrainingError(f"training data must hold >= 2 finite samples, got {x_train.shape}")
    if not loss_cfgs or len({c.name for c in loss_cfgs}) != len(loss_cfgs):
        raise ConfigError(f"a grid needs one or more configs with distinct names, got {[c.name for c in loss_cfgs]}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"a grid's seeds must be distinct, got {seeds}")
    return seeds


@dataclass
class _Grid:
    """The state of a grid's training: the stacked models and their optimizer, the data on the device, the
    shuffle and noise streams, the step count and each member's history."""

    cfg: TrainConfig
    members: list[tuple[LossConfig, int]]  # (config, seed), configs first
    world: World
    device: torch.device
    net: StackedVAE
    opt: torch.optim.Optimizer
    data: torch.Tensor  # (N, L) standardised
    loss: GridLoss
    order: torch.Generator  # the batches' shuffle, shared by every member
    noises: list[torch.Generator]  # each member's reparameterisation noise
    key: str  # what a resume checkpoint must match
    anneal_steps: int
    graphs: bool  # capture the step as a CUDA graph
    step: int = 0
    first_epoch: int = 1
    histories: list[list[dict]] = field(default_factory=list)
    failed: dict[Member, str] = field(default_factory=dict)  # members whose loss became non-finite: the reason

    @classmethod
    def build(cls, x_train: np.ndarray, cfg: TrainConfig, loss_cfgs: list[LossConfig], seeds: list[int],
              world: World) -> _Grid:  # fmt: skip
        members = [(c, seed) for c in loss_cfgs for seed in seeds]
        device = pick_device(cfg.device, world)
        model_cfg = ModelConfig(x_train.shape[1], cfg.latent_dim, tuple(cfg.hidden), cfg.likelihood)
        offset, scale = normalisation(x_train, cfg.likelihood)
        net = StackedVAE(init_models(model_cfg, [seed for _, seed in members], offset, scale)).to(device)
        graphs = cfg.cuda_graphs and device.type == "cuda" and world.size == 1
        # fused Adam: one kernel over all parameters; capturable keeps its step count on the device for the graph
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, fused=True, capturable=graphs)
        data = net.standardize(torch.as_tensor(x_train, dtype=torch.float32, device=device))  # (N, L)
        return cls(
            cfg=cfg, members=members, world=world, device=device, net=net, opt=opt, data=data,
            loss=GridLoss([c for c, _ in members], cfg.likelihood, cfg.recon_sigma, device),
            order=torch.Generator(device=device).manual_seed(cfg.seed),
            noises=[torch.Generator(device=device).manual_seed(noise_seed(seed, c.name)) for c, seed in members],
            key=resume_key(cfg, loss_cfgs, x_train, seeds),
            anneal_steps=int(cfg.anneal_fraction * cfg.epochs * math.ceil(len(data) / cfg.batch_size)),
            graphs=graphs, histories=[[] for _ in members],
        )  # fmt: skip

    @property
    def keys(self) -> list[Member]:
        return [(c.name, seed) for c, seed in self.members]

    @property
    def names(self) -> list[str]:
        """The members as the log names them: the config, and its seed when there are several."""
        several = len({seed for _, seed in self.members}) > 1
        return [f"{c.name}/seed{seed}" if several else c.name for c, seed in self.members]

    def resume_state(self, epoch: int) -> dict:
        return {"key": self.key, "model": self.net.state_dict(), "optimizer": self.opt.state_dict(),
                "generators": [g.get_state() for g in [self.order, *self.noises]], "step": self.step,
                "epoch": epoch, "history": self.histories, "failed": self.failed}  # fmt: skip


def _resume(grid: _Grid, resume_path: str | Path, on_epoch: EpochCallback | None) -> None:
    """Continue from the checkpoint at `resume_path` when it is from the same configs and data; the restored
    epochs' metrics go to `on_epoch` again (the new run gets the whole history)."""
    state = read_resume(resume_path, grid.device)
    if state is None:
        return
    if state["key"] != grid.key:
        log.info("%s: %s is from other configs or data; starting afresh", ", ".join(grid.names), resume_path)
        return
    grid.net.load_state_dict(state["model"])
    grid.opt.load_state_dict(state["optimizer"])
    for gen, gen_state in zip([grid.order, *grid.noises], state["generators"], strict=True):
        gen.set_state(gen_state.to(gen.get_state().device))
    grid.histories, grid.step, grid.first_epoch = state["history"], state["step"], state["epoch"] + 1
    grid.failed = {tuple(k): v for k, v in state.get("failed", {}).items()}
    log.info("%s: resuming from epoch %d (%s)", ", ".join(grid.names), state["epoch"], resume_path)
    if on_epoch is not None:
        for key, history in zip(grid.keys, grid.histories, strict=True):
            for metrics in history:
                on_epoch(key, metrics)


def _log_start(grid: _Grid) -> None:
    cfg = grid.cfg
    log.info(
        "training %s on %d samples x %d features, %d epochs, device %s%s%s",
        ", ".join(grid.names), len(grid.data), grid.data.shape[1], cfg.epochs, grid.device,
        ", bf16 autocast" if cfg.amp == "bf16" else "", ", CUDA graphs" if grid.graphs else "",
    )  # fmt: skip


def _warn_unless_pool_flushes(device: torch.device) -> None:
    if device.type == "cpu" and not pool_flushes_denormals():
        log.warning("denormals are not flushed in PyTorch's CPU threads (torch ran parallel work before the entry "
                    "point called pipelines.vae.devices.flush_denormals_in_cpu_pool): training may slow down as a "
                    "run goes on")  # fmt: skip


def _train_epoch(grid: _Grid, stepper: Stepper) -> tuple[dict[str, np.ndarray], float]:
    """One pass over the data in batches of the shuffle stream's order, each member with its own noise; returns
    the members' sums of loss (G,), recon (G,) and KL per latent (G, D) over the epoch's samples, and its seconds."""
    t0 = time.perf_counter()
    n, device, cfg, (rank, size) = len(grid.data), grid.device, grid.cfg, grid.world
    perm = torch.randperm(n, device=device, generator=grid.order)
    eps = torch.stack([torch.randn(n, cfg.latent_dim, device=device, generator=g) for g in grid.noises])  # (G, N, D)
    stepper.reset_sums()
    for start in range(0, n, cfg.batch_size):
        end = min(start + cfg.batch_size, n)  # this process's part of the batch: every size-th sample
        share = len(range(start + rank, end, size)) / (end - start)
        stepper.step(perm[start:end][rank::size], eps[:, start:end][:, rank::size], share)
        grid.step += 1
    sums = stepper.epoch_sums()
    return sums, time.perf_counter() - t0


def _record_epoch(grid: _Grid, sums: dict[str, np.ndarray], epoch: int, seconds: float) -> None:
    """Each member's metrics of the epoch appended to its history, then logged by rank 0. A member whose loss is
    non-finite for the first time is marked failed (its history ends at its last finite epoch); raises
    TrainingError when no member is left."""
    n = len(grid.data)
    for g, ((loss_cfg, _), key, name) in enumerate(zip(grid.members, grid.keys, grid.names, strict=True)):
        if key in grid.failed:
            continue
        capacity = target_capacity(loss_cfg, anneal_progress(grid.step - 1, grid.anneal_steps))
        metrics = epoch_metrics(epoch, {k: v[g] for k, v in sums.items()}, n, seconds, capacity)
        if not math.isfinite(metrics["loss"]):
            grid.failed[key] = f"{name}: loss became {metrics['loss']} at epoch {epoch} (diverged); lower train.lr"
            log.error("%s; the other members of the grid go on", grid.failed[key])
            continue
        grid.histories[g].append(metrics)
    if len(grid.failed) == len(grid.members):
        raise TrainingError("; ".join(grid.failed.values()))
    eta = seconds * (grid.cfg.epochs - epoch)  # the last epoch's pace for the ones left
    if grid.world.rank == 0:
        live = [g for g, key in enumerate(grid.keys) if key not in grid.failed]  # the failed ones are not logged
        rate = len(live) * n / seconds
        _log_epoch(epoch, grid.cfg.epochs, [grid.histories[g][-1] for g in live], [grid.names[g] for g in live],
                   rate, eta)  # fmt: skip


def normalisation(x: np.ndarray, likelihood: str) -> tuple[float, float]:
    """(offset, scale) mapping the training data to standard units (Gaussian) or to [0, 1] (Bernoulli)."""
    if likelihood == "bernoulli":
        low, high = float(x.min()), float(x.max())
        return low, (high - low) or 1.0
    return float(x.mean()), float(x.std()) or 1.0


def _log_epoch(epoch: int, epochs: int, last: list[dict], names: list[str], rate: float, eta_s: float) -> None:
    for name, m in zip(names, last, strict=True):
        log.info(
            "%s epoch %d/%d  loss %.2f  recon %.2f  kl %.2f nats (C %.1f)  %.0f samples/s  ETA %.0f s",
            name, epoch, epochs, m["loss"], m["recon"], m["kl"], m["capacity"], m["samples_per_s"], eta_s,
        )  # fmt: skip
    if len(names) > 1:
        log.info("grid of %d, epoch %d/%d: %.0f model-samples/s, ETA %.0f s", len(names), epoch, epochs, rate, eta_s)
