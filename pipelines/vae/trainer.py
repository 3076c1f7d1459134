"""Training of beta-VAEs: one config, or a whole sweep of configs in one vectorised pass (`StackedVAE`).

The data live as one normalised tensor on the device and are sliced per batch (no DataLoader over in-memory
tensors). Every config of a grid sees the same batches (one shuffle stream seeded by `train.seed`) and draws its
reparameterisation noise from its own stream, seeded by `train.seed` and its name, one (N, D) draw per epoch; so a
config's result does not depend on the grid it was trained in, and `train_vae` is `train_grid` with one config.
Each step sums the G models' losses (`pipelines.vae.losses.GridLoss`: reconstruction plus each model's regularizer),
autograd gives every model the gradient of its own loss, and PyTorch's fused Adam steps all of them. On CUDA the
whole step (forward, backward, Adam) is captured once as a CUDA graph and replayed. Optional: bf16 autocast of the
matrix multiplies (`train.amp`) and torch.compile of the forward and loss (`train.compile`); `make bench`
measures them (benchmarks/README.md).

The loop reads top to bottom: shuffle and noise -> per batch (forward -> loss -> backward -> Adam) -> epoch
metrics -> callback. Metrics reach the caller through `on_epoch(index, metrics)`; the training stage passes the
MLflow logger, a test passes a list's append.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pipelines.errors import ConfigError, TrainingError
from pipelines.vae.checkpoints import read_resume, resume_key, write_resume
from pipelines.vae.devices import distributed, flushed_denormals, pick_device, pool_flushes_denormals
from pipelines.vae.losses import GridLoss
from pipelines.vae.model import BetaVAE, ModelConfig, StackedVAE, init_models
from pipelines.vae.regularizers import LossConfig, Posterior, anneal_progress, target_capacity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 50  # the mission's default
    batch_size: int = 64
    lr: float = 5e-4  # Adam, the mission's default
    latent_dim: int = 10
    hidden: tuple[int, ...] = (256, 128)
    likelihood: str = "gaussian"  # or "bernoulli" (pipelines.vae.losses)
    recon_sigma: float = 0.1  # std of the Gaussian likelihood, in standardised data units
    anneal_fraction: float = 0.8  # share of all steps over which C(t) rises from 0 to C
    seed: int = 0
    seeds: int = 1  # models per config, seeded seed, seed + 1, ... (Locatello et al. 2019 use 50; a study 5)
    device: str = "auto"  # "auto" (CUDA when present), "cpu" or "cuda"
    amp: str = "off"  # "bf16": autocast matrix multiplies to bf16 (fp32 accumulation); faster grids on a GPU
    cuda_graphs: bool = True  # on CUDA, capture the training step once and replay it
    compile: bool = False  # torch.compile the forward and loss: fuses kernels; pays off on long CUDA runs
    checkpoint_every: int = 10  # epochs between resume checkpoints (0: none)

    def __post_init__(self):
        if self.amp not in ("bf16", "off"):
            raise ConfigError(f"train.amp must be bf16 or off, got {self.amp!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.seeds < 1:
            raise ConfigError("train.epochs, train.batch_size and train.seeds must be >= 1")

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))


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
    [(model, history)] = train_grid(x_train, cfg, [loss_cfg], callback, resume_path, seeds=[cfg.seed])
    return model, history


def train_grid(
    x_train: np.ndarray,
    cfg: TrainConfig,
    loss_cfgs: list[LossConfig],
    on_epoch: Callable[[int, dict], None] | None = None,
    resume_path: str | Path | None = None,
    seeds: Sequence[int] | None = None,
) -> list[tuple[BetaVAE, list[dict]]]:
    """Train one BetaVAE per entry of `loss_cfgs` and seed of `seeds` (default: `cfg.seed_list`) on `x_train`
    (N, L), all in one vectorised pass; returns each model (CPU, eval mode) with its per-epoch metrics, configs
    first: member g is config g // len(seeds), seed g % len(seeds), as `on_epoch(g, metrics)` numbers them. A seed
    sets a model's initial weights and its noise stream; every member sees the batches in the order of
    `cfg.seed`. Raises TrainingError on empty or non-finite data or when a loss becomes non-finite (naming the
    config).

    With `resume_path`, a checkpoint (weights, optimizer, RNG streams, step, histories) is written there every
    `cfg.checkpoint_every` epochs, and a run that finds one from the same configs and data continues from it: a
    killed run ends with the same weights as an uninterrupted one; the restored epochs' metrics are passed to
    `on_epoch` again first (a resumed run is logged as a new MLflow run, which then holds the whole history). The
    file is removed when training ends; an unreadable one is moved aside and training starts afresh."""
    if len(x_train) < 2 or x_train.ndim != 2 or not np.isfinite(x_train).all():
        raise TrainingError(f"training data must hold >= 2 finite samples, got {x_train.shape}")
    if not loss_cfgs or len({c.name for c in loss_cfgs}) != len(loss_cfgs):
        raise ConfigError(f"a grid needs one or more configs with distinct names, got {[c.name for c in loss_cfgs]}")
    seeds = list(seeds) if seeds else cfg.seed_list
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"a grid's seeds must be distinct, got {seeds}")
    members = [(c, seed) for c in loss_cfgs for seed in seeds]
    device = pick_device(cfg.device)
    model_cfg = ModelConfig(x_train.shape[1], cfg.latent_dim, tuple(cfg.hidden), cfg.likelihood)
    offset, scale = _normalisation(x_train, cfg.likelihood)
    net = StackedVAE(init_models(model_cfg, [seed for _, seed in members], offset, scale)).to(device)
    rank, world = distributed()
    graphs = cfg.cuda_graphs and device.type == "cuda" and world == 1
    # fused Adam: one kernel over all parameters; capturable keeps its step count on the device for the CUDA graph
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, fused=True, capturable=graphs)
    data = net.standardize(torch.as_tensor(x_train, dtype=torch.float32, device=device))  # (N, L)
    n = len(data)
    names = [c.name if len(seeds) == 1 else f"{c.name}/seed{seed}" for c, seed in members]
    anneal_steps = int(cfg.anneal_fraction * cfg.epochs * math.ceil(n / cfg.batch_size))
    order = torch.Generator(device=device).manual_seed(cfg.seed)
    noises = [torch.Generator(device=device).manual_seed(noise_seed(seed, c.name)) for c, seed in members]
    histories: list[list[dict]] = [[] for _ in members]
    step, first_epoch = 0, 1
    key = resume_key(cfg, loss_cfgs, x_train, seeds)
    state = read_resume(resume_path, device) if resume_path is not None else None
    if state is not None:
        if state["key"] == key:
            net.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            for gen, gen_state in zip([order, *noises], state["generators"], strict=True):
                gen.set_state(gen_state.to(gen.get_state().device))
            histories, step, first_epoch = state["history"], state["step"], state["epoch"] + 1
            log.info("%s: resuming from epoch %d (%s)", ", ".join(names), state["epoch"], resume_path)
            for g in range(len(members) if on_epoch is not None else 0):  # the new run gets the whole history
                for metrics in histories[g]:
                    on_epoch(g, metrics)
        else:
            log.info("%s: %s is from other configs or data; starting afresh", ", ".join(names), resume_path)
    loss = GridLoss([c for c, _ in members], cfg.likelihood, cfg.recon_sigma, device)
    stepper = _Stepper(net, opt, data, loss, cfg, anneal_steps, step)
    if graphs:
        stepper.capture()
    log.info(
        "training %s on %d samples x %d features, %d epochs, device %s%s%s",
        ", ".join(names), n, data.shape[1], cfg.epochs, device,
        ", bf16 autocast" if cfg.amp == "bf16" else "", ", CUDA graphs" if graphs else "",
    )  # fmt: skip
    with flushed_denormals(device):
        if device.type == "cpu" and not pool_flushes_denormals():
            log.warning("denormals are not flushed in PyTorch's CPU threads (torch ran parallel work before "
                        "pipelines.vae.trainer was imported): training may slow down as a run goes on; import it "
                        "first")  # fmt: skip
        for epoch in range(first_epoch, cfg.epochs + 1):
            t0 = time.perf_counter()
            perm = torch.randperm(n, device=device, generator=order)
            eps = torch.stack([torch.randn(n, cfg.latent_dim, device=device, generator=g) for g in noises])  # (G, N, D)
            stepper.reset_sums()
            for start in range(0, n, cfg.batch_size):
                end = min(start + cfg.batch_size, n)  # this process's part of the batch: every world-th sample
                stepper.share = len(range(start + rank, end, world)) / (end - start)
                stepper.step(perm[start:end][rank::world], eps[:, start:end][:, rank::world])
                step += 1
            if world > 1:
                for v in stepper.sums.values():
                    torch.distributed.all_reduce(v)
            sums = {k: v.cpu().numpy() for k, v in stepper.sums.items()}  # waits for the device
            seconds = time.perf_counter() - t0
            for g, (loss_cfg, _) in enumerate(members):
                capacity = target_capacity(loss_cfg, anneal_progress(step - 1, anneal_steps))
                metrics = _epoch_metrics(epoch, {k: v[g] for k, v in sums.items()}, n, seconds, capacity)
                if not math.isfinite(metrics["loss"]):
                    raise TrainingError(
                        f"{loss_cfg.name}: loss became {metrics['loss']} at epoch {epoch}; lower train.lr"
                    )
                histories[g].append(metrics)
            eta = seconds * (cfg.epochs - epoch)  # the last epoch's pace for the ones left
            if rank == 0:
                _log_epoch(epoch, cfg.epochs, [h[-1] for h in histories], names, len(members) * n / seconds, eta)
            if resume_path is not None and cfg.checkpoint_every and epoch % cfg.checkpoint_every == 0:
                write_resume(resume_path, {"key": key, "model": net.state_dict(), "optimizer": opt.state_dict(),
                                           "generators": [g.get_state() for g in [order, *noises]], "step": step,
                                           "epoch": epoch, "history": histories})  # fmt: skip
            if on_epoch is not None:
                for g in range(len(members)):
                    on_epoch(g, histories[g][-1])
    if resume_path is not None:
        Path(resume_path).unlink(missing_ok=True)
    return [(net.unstack(g), histories[g]) for g in range(len(members))]


class _Stepper:
    """One optimisation step of the stacked models, eager or replayed from a CUDA graph (captured for the full
    batch; an epoch's last, shorter batch runs eagerly). Sums of the epoch's loss, recon and KL per latent
    accumulate on the device, so the loop never waits for it inside an epoch."""

    def __init__(self, net: StackedVAE, opt, data, loss: GridLoss, cfg: TrainConfig, anneal_steps: int, step: int):
        self.net, self.opt, self.data, self.cfg, self.anneal_steps = net, opt, data, cfg, anneal_steps
        device = data.device
        self.t = torch.tensor(float(step), device=device)  # the step count the annealing reads, on the device
        self.world, self.share = distributed()[1], 1.0  # share: this process's part of the batch
        g, d = net.size, cfg.latent_dim
        self.sums = {k: torch.zeros(shape, device=device) for k, shape in (("loss", g), ("recon", g), ("kl", (g, d)))}
        self.graph: torch.cuda.CUDAGraph | None = None
        self.idx = torch.zeros(cfg.batch_size, dtype=torch.long, device=device)
        self.eps = torch.zeros(g, cfg.batch_size, d, device=device)
        self.loss = loss
        self.forward = torch.compile(self._forward) if cfg.compile else self._forward
        bf16 = cfg.amp == "bf16"  # (a disabled autocast still costs ~0.1 ms a step on a CPU)
        # no cast cache: PyTorch asks for it off where autocast runs inside a CUDA graph (make_graphed_callables)
        cast = torch.autocast(device.type, torch.bfloat16, cache_enabled=False)
        self.autocast = cast if bf16 else contextlib.nullcontext()

    def _forward(self, batch: torch.Tensor, eps: torch.Tensor, progress: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out, mu, logvar, z = self.net(batch, eps)
        post = Posterior(mu, logvar, z, progress)
        loss, recon = self.loss(batch, out, post)
        return loss, recon, post.kl.mean(dim=1)

    def reset_sums(self) -> None:
        for v in self.sums.values():
            v.zero_()

    def step(self, idx: torch.Tensor, eps: torch.Tensor) -> None:
        if self.graph is None or len(idx) != self.cfg.batch_size:
            self._compute(idx, eps)
            return
        self.idx.copy_(idx)
        self.eps.copy_(eps)
        self.graph.replay()

    def _compute(self, idx: torch.Tensor, eps: torch.Tensor) -> None:
        batch = torch.index_select(self.data, 0, idx)
        with self.autocast:
            loss, recon, kl = self.forward(batch, eps, anneal_progress(self.t, self.anneal_steps))
        self.opt.zero_grad(set_to_none=self.graph is None)  # a captured graph keeps writing into its gradients
        loss.sum().backward()  # the models share no weights: each gets the gradient of its own loss
        if self.world > 1:  # data parallel: the batch mean is the parts' means weighted by their shares
            for p in self.net.parameters():
                torch.distributed.all_reduce(p.grad.mul_(self.share))
        self.opt.step()
        self.t += 1
        for key, mean in (("loss", loss), ("recon", recon), ("kl", kl)):
            self.sums[key].add_(mean.detach(), alpha=len(idx))

    def capture(self) -> None:
        """Capture the full-batch step as a CUDA graph (PyTorch's whole-network recipe: warm-up on a side stream,
        gradients set to None so the graph allocates its own). The warm-up steps are undone afterwards (weights,
        optimizer state, step count, sums): the graph changes nothing but the speed."""
        if len(self.data) < self.cfg.batch_size:
            return  # every batch is the short one
        params = list(self.net.parameters())
        saved = [p.detach().clone() for p in params], _clone_state(self.opt), self.t.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self._compute(self.idx, self.eps)
        torch.cuda.current_stream().wait_stream(side)
        self.opt.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._compute(self.idx, self.eps)
        self.graph = graph
        weights, opt_state, t = saved
        with torch.no_grad():
            for p, w in zip(params, weights, strict=True):
                p.copy_(w)
                for key, value in self.opt.state[p].items():
                    value.copy_(opt_state[p][key]) if p in opt_state else value.zero_()
        self.t.copy_(t)
        self.reset_sums()


def _clone_state(opt: torch.optim.Optimizer) -> dict:
    return {p: {k: v.clone() for k, v in s.items()} for p, s in opt.state.items()}


def _normalisation(x: np.ndarray, likelihood: str) -> tuple[float, float]:
    """(offset, scale) mapping the training data to standard units (Gaussian) or to [0, 1] (Bernoulli)."""
    if likelihood == "bernoulli":
        low, high = float(x.min()), float(x.max())
        return low, (high - low) or 1.0
    return float(x.mean()), float(x.std()) or 1.0


def _epoch_metrics(epoch: int, sums: dict, n: int, seconds: float, capacity: float) -> dict:
    """One model's metrics of an epoch from its sums over the epoch's samples."""
    kl_latent = sums["kl"] / n
    return {
        "epoch": epoch, "loss": float(sums["loss"]) / n, "recon": float(sums["recon"]) / n,
        "kl": float(kl_latent.sum()), "capacity": capacity, "samples_per_s": n / seconds, "seconds": seconds,
        **{f"kl_{i}": float(v) for i, v in enumerate(kl_latent)},
    }  # fmt: skip


def _log_epoch(epoch: int, epochs: int, last: list[dict], names: list[str], rate: float, eta_s: float) -> None:
    for name, m in zip(names, last, strict=True):
        log.info(
            "%s epoch %d/%d  loss %.2f  recon %.2f  kl %.2f nats (C %.1f)  %.0f samples/s  ETA %.0f s",
            name, epoch, epochs, m["loss"], m["recon"], m["kl"], m["capacity"], m["samples_per_s"], eta_s,
        )  # fmt: skip
    if len(names) > 1:
        log.info("grid of %d, epoch %d/%d: %.0f model-samples/s, ETA %.0f s", len(names), epoch, epochs, rate, eta_s)
