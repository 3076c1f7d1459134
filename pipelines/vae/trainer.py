"""Training of beta-VAEs: one config, or a whole beta/C grid in one vectorised pass (`StackedVAE`).

The data live as one normalised tensor on the device and are sliced per batch (no DataLoader over in-memory
tensors). Every config of a grid sees the same batches (one shuffle stream seeded by `train.seed`) and draws its
reparameterisation noise from its own stream, seeded by `train.seed` and its name, one (N, D) draw per epoch; so a
config's result does not depend on the grid it was trained in, and `train_vae` is `train_grid` with one config.
The forward and backward passes are written out by hand (`pipelines.vae.fused`: no autograd bookkeeping) into one
flat gradient buffer, and Adam (the fused kernel) steps that one flat parameter: on a CPU layer by layer inside
the backward pass, while each layer's gradient is still in cache, on CUDA in one launch. On CUDA the whole
step (forward, backward, Adam) is captured once as a CUDA graph and replayed. Optional: bf16 matrix multiplies
(`train.amp`) and torch.compile of the step (`train.compile`); `python -m benchmarks.training` measures each.

The loop reads top to bottom: shuffle and noise -> per batch (capacity target -> forward -> loss -> step) ->
epoch metrics -> callback. Metrics reach the caller through `on_epoch(index, metrics)`; the training stage passes
the MLflow logger, a test passes a list's append.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from pipelines.errors import ConfigError, TrainingError
from pipelines.storage import atomic_path
from pipelines.vae import cpu_math, fused
from pipelines.vae.losses import LossConfig, capacity_at, loss_weights
from pipelines.vae.model import BetaVAE, ModelConfig, StackedVAE, init_models

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
    device: str = "auto"  # "auto" (CUDA when present), "cpu" or "cuda"
    amp: str = "off"  # "bf16": matmuls with bf16 operands, fp32 accumulation (faster grids where the hardware has bf16)
    cuda_graphs: bool = True  # on CUDA, capture the training step once and replay it
    compile: bool = False  # torch.compile the forward-backward step: fuses kernels; pays off on long CUDA runs
    checkpoint_every: int = 10  # epochs between resume checkpoints (0: none)

    def __post_init__(self):
        if self.amp not in ("bf16", "off"):
            raise ConfigError(f"train.amp must be bf16 or off, got {self.amp!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("train.epochs and train.batch_size must be >= 1")


def pick_device(name: str) -> torch.device:
    """The training device; under torchrun, each process's own GPU (LOCAL_RANK)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("train.device is 'cuda' but no CUDA device is available")
    if name == "cuda" and distributed()[1] > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device(name)


def distributed() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) unless a process group is initialised (`init_distributed`)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def init_distributed() -> tuple[int, int]:
    """Join the process group torchrun describes (WORLD_SIZE, RANK, MASTER_ADDR in the environment): NCCL on
    GPUs, gloo on CPUs. Data-parallel training: every process holds the whole grid, takes its share of each
    batch and averages the flat gradient with the others, so all end with the same weights."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.distributed.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        torch.distributed.init_process_group("nccl" if cuda else "gloo")
    return distributed()


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
    [(model, history)] = train_grid(x_train, cfg, [loss_cfg], callback, resume_path)
    return model, history


def train_grid(
    x_train: np.ndarray,
    cfg: TrainConfig,
    loss_cfgs: list[LossConfig],
    on_epoch: Callable[[int, dict], None] | None = None,
    resume_path: str | Path | None = None,
) -> list[tuple[BetaVAE, list[dict]]]:
    """Train one BetaVAE per entry of `loss_cfgs` on `x_train` (N, L), all in one vectorised pass; returns each
    model (CPU, eval mode) with its per-epoch metrics. Raises TrainingError on empty or non-finite data or when a
    loss becomes non-finite (naming the config).

    With `resume_path`, a checkpoint (weights, optimizer, RNG streams, step, histories) is written there every
    `cfg.checkpoint_every` epochs, and a run that finds one from the same configs and data continues from it: a
    killed run ends with the same weights as an uninterrupted one; the restored epochs' metrics are passed to
    `on_epoch` again first (a resumed run is logged as a new MLflow run, which then holds the whole history). The
    file is removed when training ends; an unreadable one is moved aside and training starts afresh."""
    if len(x_train) < 2 or x_train.ndim != 2 or not np.isfinite(x_train).all():
        raise TrainingError(f"training data must hold >= 2 finite samples, got {x_train.shape}")
    if not loss_cfgs or len({c.name for c in loss_cfgs}) != len(loss_cfgs):
        raise ConfigError(f"a grid needs one or more configs with distinct names, got {[c.name for c in loss_cfgs]}")
    device = pick_device(cfg.device)
    model_cfg = ModelConfig(x_train.shape[1], cfg.latent_dim, tuple(cfg.hidden), cfg.likelihood)
    offset, scale = _normalisation(x_train, cfg.likelihood)
    net = StackedVAE(init_models(model_cfg, len(loss_cfgs), cfg.seed, offset, scale)).to(device)
    rank, world = distributed()
    graphs = cfg.cuda_graphs and device.type == "cuda" and world == 1
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, fused=True, capturable=graphs)
    data = net.standardize(torch.as_tensor(x_train, dtype=torch.float32, device=device))  # (N, L)
    n, names = len(data), [c.name for c in loss_cfgs]
    anneal_steps = int(cfg.anneal_fraction * cfg.epochs * math.ceil(n / cfg.batch_size))
    order = torch.Generator(device=device).manual_seed(cfg.seed)
    noises = [torch.Generator(device=device).manual_seed(noise_seed(cfg.seed, name)) for name in names]
    histories: list[list[dict]] = [[] for _ in loss_cfgs]
    step, first_epoch = 0, 1
    resume_key = _resume_key(cfg, loss_cfgs, x_train)
    state = _read_resume(resume_path, device) if resume_path is not None else None
    if state is not None:
        if state["key"] == resume_key:
            net.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            for gen, gen_state in zip([order, *noises], state["generators"], strict=True):
                gen.set_state(gen_state.to(gen.get_state().device))
            histories, step, first_epoch = state["history"], state["step"], state["epoch"] + 1
            log.info("%s: resuming from epoch %d (%s)", ", ".join(names), state["epoch"], resume_path)
            for g in range(len(loss_cfgs) if on_epoch is not None else 0):  # the new run gets the whole history
                for metrics in histories[g]:
                    on_epoch(g, metrics)
        else:
            log.info("%s: %s is from other configs or data; starting afresh", ", ".join(names), resume_path)
    if cfg.amp == "bf16" and device.type == "cpu" and not cpu_math.has_bf16():
        log.warning("train.amp is bf16 but this CPU has no bf16 matrix multiplies: training in float32")
    stepper = _Stepper(net, opt, data, loss_cfgs, cfg, anneal_steps, device, step)
    if graphs:
        stepper.capture()
    log.info(
        "training %s on %d samples x %d features, %d epochs, device %s%s%s",
        ", ".join(names), n, data.shape[1], cfg.epochs, device,
        ", bf16 matmuls" if cfg.amp == "bf16" else "", ", CUDA graphs" if graphs else "",
    )  # fmt: skip
    bf16_mode = cfg.amp == "bf16" and stepper.half is None  # a CPU's float32 tensors in oneDNN's bf16 mode
    with cpu_math.flushed(device), cpu_math.bf16_matmuls(device, bf16_mode):
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
            for g, loss_cfg in enumerate(loss_cfgs):
                capacity = capacity_at(step - 1, loss_cfg.capacity_nats, anneal_steps)
                metrics = _epoch_metrics(epoch, {k: v[g] for k, v in sums.items()}, n, seconds, capacity)
                if not math.isfinite(metrics["loss"]):
                    raise TrainingError(
                        f"{loss_cfg.name}: loss became {metrics['loss']} at epoch {epoch}; lower train.lr"
                    )
                histories[g].append(metrics)
            eta = seconds * (cfg.epochs - epoch)  # the last epoch's pace for the ones left
            if rank == 0:
                _log_epoch(epoch, cfg.epochs, [h[-1] for h in histories], names, len(loss_cfgs) * n / seconds, eta)
            if resume_path is not None and cfg.checkpoint_every and epoch % cfg.checkpoint_every == 0:
                state = {"key": resume_key, "model": net.state_dict(), "optimizer": opt.state_dict(),
                         "generators": [g.get_state() for g in [order, *noises]], "step": step, "epoch": epoch,
                         "history": histories}  # fmt: skip
                with atomic_path(resume_path) as tmp:
                    torch.save(state, tmp)
            if on_epoch is not None:
                for g in range(len(loss_cfgs)):
                    on_epoch(g, histories[g][-1])
    if resume_path is not None:
        Path(resume_path).unlink(missing_ok=True)
    return [(net.unstack(g), histories[g]) for g in range(len(loss_cfgs))]


class _Stepper:
    """One optimisation step of the stacked models, eager or replayed from CUDA graphs (one per batch size: the
    full batch and the epoch's last, shorter one). Sums of the epoch's loss, recon and KL per latent accumulate on
    the device, so the loop never waits for it inside an epoch."""

    def __init__(self, net, opt, data, loss_cfgs, cfg: TrainConfig, anneal_steps: int, device, step: int):
        self.net, self.opt, self.data, self.cfg = net, opt, data, cfg
        self.beta, self.gamma, self.capacity_nats = loss_weights(loss_cfgs, device)
        self.anneal_steps = anneal_steps
        self.capacity_rate = self.capacity_nats / max(anneal_steps, 1)  # C(t) = min(C, C t / T_anneal)
        self.t = torch.tensor(float(step), device=device)  # the step counter C(t) reads, kept on the device
        self.world, self.share = distributed()[1], 1.0  # share: this process's part of the batch
        g, d = len(loss_cfgs), cfg.latent_dim
        self.sums = {k: torch.zeros(shape, device=device) for k, shape in (("loss", g), ("recon", g), ("kl", (g, d)))}
        self.graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self.idx = torch.zeros(cfg.batch_size, dtype=torch.long, device=device)
        self.eps = torch.zeros(g, cfg.batch_size, d, device=device)
        net.flat.grad = torch.zeros_like(net.flat)  # written in place every step, never zeroed or freed
        self.grads = net.layers(net.flat.grad)
        # the layers the step multiplies by: views of the weights, or with amp of their bf16 copy, refreshed every
        # step (a CPU with AMX keeps float32 tensors and oneDNN multiplies them in bf16: pipelines.vae.cpu_math)
        bf16_copy = cfg.amp == "bf16" and cpu_math.bf16_tensors(device)
        self.half = net.flat.detach().to(torch.bfloat16) if bf16_copy else None
        self.layers = net.layers(self.half)
        self.forward_backward = torch.compile(fused.forward_backward) if cfg.compile else fused.forward_backward
        # On a CPU (one process, eager) each layer's Adam step runs as soon as the backward pass is done with that
        # layer, while its gradient and weights are still in cache: a grid's optimizer state (4 x 10 MB for 16
        # models) outgrows the cache, and stepping it layer by layer makes a grid of 16 ~1.15x faster. On a GPU one
        # fused Adam over the flat parameter is fewer kernel launches. Either way the same arithmetic per weight.
        self.layer_adam = self._layer_adam() if device.type == "cpu" and self.world == 1 and not cfg.compile else None

    def _layer_adam(self) -> Callable[[int], None]:
        """`layer_done` for the fused step: Adam on layer k's slices of the flat parameter, gradient and moments,
        through torch._fused_adam_ (private, but the very op torch.optim.Adam(fused=True) runs; tests/vae/test_grid.py
        checks the result against opt.step() bit for bit), on the optimizer's own state, so checkpoints and resumes
        see no difference."""
        p, group = self.net.flat, self.opt.param_groups[0]
        state = self.opt.state[p]
        if not state:  # what Adam(fused=True) creates at its first step
            state.update(step=torch.zeros((), dtype=torch.float32, device=p.device), exp_avg=torch.zeros_like(p),
                         exp_avg_sq=torch.zeros_like(p))  # fmt: skip
        self.adam_step = state["step"]
        parts = [sum(self.net.layers(t), []) for t in (p.detach(), p.grad, state["exp_avg"], state["exp_avg_sq"])]
        slices = [[list(pair) for pair in layer] for layer in zip(*parts, strict=True)]  # per layer: p, g, m, v
        beta1, beta2 = group["betas"]
        options = dict(lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"],
                       amsgrad=False, maximize=False)  # fmt: skip

        # bf16 tensors: each layer's bf16 copy is cast right after its Adam step, while its new weights are in cache
        # (a grid of 16 ~1.05-1.1x faster than casting all of them at the start of the next step)
        halves = [list(pair) for pair in sum(self.net.layers(self.half), [])] if self.half is not None else None

        def step_layer(k: int) -> None:
            torch._fused_adam_(*slices[k], [], [self.adam_step] * 2, **options)
            if halves is not None:
                for half, weight in zip(halves[k], slices[k][0], strict=True):
                    half.copy_(weight)

        return step_layer

    def reset_sums(self) -> None:
        for v in self.sums.values():
            v.zero_()

    def step(self, idx: torch.Tensor, eps: torch.Tensor) -> None:
        size = len(idx)
        if size not in self.graphs:
            self._compute(idx, eps)
            return
        self.idx[:size].copy_(idx)
        self.eps[:, :size].copy_(eps)
        self.graphs[size].replay()

    def _capacity(self) -> torch.Tensor:
        if self.anneal_steps <= 0:
            return self.capacity_nats
        return torch.minimum(self.capacity_nats, self.capacity_rate * self.t)

    def _compute(self, idx: torch.Tensor, eps: torch.Tensor) -> None:
        weights = (self.beta, self.gamma, self._capacity())
        if self.half is not None and self.layer_adam is None:
            self.half.copy_(self.net.flat.detach())  # the weights cast to bf16 once per step (else by layer_adam)
        batch = torch.index_select(self.data, 0, idx)
        if self.layer_adam is not None:
            self.adam_step += 1  # Adam's step count, as opt.step() would advance it
        loss, recon, kl = self.forward_backward(
            *self.layers, self.grads, batch, eps, weights, self.cfg.likelihood, self.cfg.recon_sigma, self.layer_adam
        )  # writes each model's gradient of its own loss into net.flat.grad (and steps Adam layer by layer)
        if self.layer_adam is None:
            if self.world > 1:  # data parallel: the batch mean is the parts' means weighted by their shares
                torch.distributed.all_reduce(self.net.flat.grad.mul_(self.share))
            self.opt.step()
        self.t += 1
        for key, mean in (("loss", loss), ("recon", recon), ("kl", kl)):
            self.sums[key].add_(mean, alpha=len(idx))

    def capture(self) -> None:
        """Capture one CUDA graph per batch size. Capturing runs warm-up steps, so the weights, optimizer state,
        step counter and sums are put back afterwards: the graphs change nothing but the speed."""
        n, b = len(self.data), self.cfg.batch_size
        sizes = sorted({b, n % b} - {0} if n >= b else {n})
        params = [self.net.flat]
        saved = [p.detach().clone() for p in params], _clone_state(self.opt), self.t.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for size in sizes:
                for _ in range(3):
                    self._compute(self.idx[:size], self.eps[:, :size])
        torch.cuda.current_stream().wait_stream(side)
        pool = None
        for size in sizes:
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=pool):
                self._compute(self.idx[:size], self.eps[:, :size])
            pool = graph.pool()
            self.graphs[size] = graph
        weights, opt_state, t = saved
        with torch.no_grad():
            for p, w in zip(params, weights, strict=True):
                p.copy_(w)
            for p in params:
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


def _read_resume(path: str | Path, device: torch.device) -> dict | None:
    """The resume checkpoint at `path`, or None when there is none. An unreadable one (truncated, corrupt) is
    moved aside to `<path>.corrupt` with a warning and training starts afresh: it cannot be continued from, and
    it is kept for a look rather than deleted."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=True)  # tensors and plain data: no code runs
        if not isinstance(state, dict) or not {"key", "model", "optimizer", "generators"} <= state.keys():
            raise ValueError("not a resume checkpoint")
        return state
    except Exception as e:
        aside = path.with_name(path.name + ".corrupt")
        os.replace(path, aside)
        log.warning("%s is unreadable (%s: %s); moved to %s, training starts afresh", path, type(e).__name__,
                    str(e)[:200], aside)  # fmt: skip
        return None


def _resume_key(cfg: TrainConfig, loss_cfgs: list[LossConfig], x_train: np.ndarray) -> str:
    """What a resume checkpoint must match: the configs and the data's bytes."""
    digest = hashlib.md5(np.ascontiguousarray(x_train).tobytes()).hexdigest()
    return json.dumps([asdict(cfg), [asdict(c) for c in loss_cfgs], digest], sort_keys=True, default=str)


def save_checkpoint(path: str | Path, model: BetaVAE, cfg: TrainConfig, loss_cfg: LossConfig, history: list[dict]):
    """Model weights with everything needed to rebuild and describe it (configs, normalisation, history)."""
    with atomic_path(path) as tmp:
        torch.save(
            {
                "state_dict": model.state_dict(),
                "model": model.describe(),
                "train": asdict(cfg),
                "loss": asdict(loss_cfg),
                "history": history,
            },
            tmp,
        )
    return Path(path)


def load_checkpoint(path: str | Path) -> tuple[BetaVAE, dict]:
    """The model (CPU, eval mode) saved by save_checkpoint and the whole checkpoint dict; TrainingError naming
    the file when it is missing, truncated or not a model checkpoint."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        desc = dict(ckpt["model"])
        mean, std = desc.pop("x_mean"), desc.pop("x_std")
        model = BetaVAE(ModelConfig(**{**desc, "hidden": tuple(desc["hidden"])}), mean, std)
        model.load_state_dict(ckpt["state_dict"])
    except Exception as e:
        raise TrainingError(f"{path}: unreadable model checkpoint ({type(e).__name__}: {str(e)[:200]})") from e
    return model.eval(), ckpt
