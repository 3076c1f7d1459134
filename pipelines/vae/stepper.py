"""One optimisation step of a grid of stacked beta-VAEs (`pipelines.vae.model.StackedVAE`), eager or replayed from a
CUDA graph, with the epoch's sums of loss, reconstruction and KL per latent kept on the device.

The trainer (pipelines.vae.trainer) calls `step` once per batch; each step sums the G models' losses
(`pipelines.vae.losses.GridLoss`), autograd gives every model the gradient of its own loss and PyTorch's fused Adam
steps all of them. Under torchrun each process steps on its share of the batch and the gradients are averaged,
weighted by the shares (data parallel)."""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from pipelines.vae.losses import GridLoss
from pipelines.vae.model import StackedVAE
from pipelines.vae.regularizers import Posterior, anneal_progress


class Stepper:
    """One optimisation step of the stacked models, eager or replayed from a CUDA graph (captured for the full
    batch; an epoch's last, shorter batch runs eagerly). Sums of the epoch's loss, recon and KL per latent
    accumulate on the device, so the loop never waits for it inside an epoch."""

    def __init__(self, net: StackedVAE, opt, data, loss: GridLoss, cfg, anneal_steps: int, step: int,
                 world_size: int):  # fmt: skip
        self.net, self.opt, self.data, self.cfg, self.anneal_steps = net, opt, data, cfg, anneal_steps
        device = data.device
        self.t = torch.tensor(float(step), device=device)  # the step count the annealing reads, on the device
        self.world_size = world_size  # processes sharing each batch (torchrun); 1 otherwise
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
        """Start an epoch's sums at zero."""
        for v in self.sums.values():
            v.zero_()

    def epoch_sums(self) -> dict[str, np.ndarray]:
        """The epoch's sums over its samples (those of every process under torchrun): loss (G,), recon (G,) and KL
        per latent (G, D), copied to the host (which waits for the device)."""
        if self.world_size > 1:
            for v in self.sums.values():
                torch.distributed.all_reduce(v)
        return {k: v.cpu().numpy() for k, v in self.sums.items()}

    def step(self, idx: torch.Tensor, eps: torch.Tensor, share: float = 1.0) -> None:
        """One step on the samples `idx` (B,) of the data with noise `eps` (G, B, D); `share`: this process's part
        of the whole batch under torchrun (its gradients are weighted by it before they are summed)."""
        if self.graph is None or len(idx) != self.cfg.batch_size:
            self._compute(idx, eps, share)
            return
        self.idx.copy_(idx)
        self.eps.copy_(eps)
        self.graph.replay()

    def _compute(self, idx: torch.Tensor, eps: torch.Tensor, share: float = 1.0) -> None:
        batch = torch.index_select(self.data, 0, idx)
        with self.autocast:
            loss, recon, kl = self.forward(batch, eps, anneal_progress(self.t, self.anneal_steps))
        self.opt.zero_grad(set_to_none=self.graph is None)  # a captured graph keeps writing into its gradients
        loss.sum().backward()  # the models share no weights: each gets the gradient of its own loss
        if self.world_size > 1:  # data parallel: the batch mean is the parts' means weighted by their shares
            for p in self.net.parameters():
                torch.distributed.all_reduce(p.grad.mul_(share))
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


def epoch_metrics(epoch: int, sums: dict, n: int, seconds: float, capacity: float) -> dict:
    """One model's metrics of an epoch from its sums over the epoch's samples."""
    kl_latent = sums["kl"] / n
    return {
        "epoch": epoch, "loss": float(sums["loss"]) / n, "recon": float(sums["recon"]) / n,
        "kl": float(kl_latent.sum()), "capacity": capacity, "samples_per_s": n / seconds, "seconds": seconds,
        **{f"kl_{i}": float(v) for i, v in enumerate(kl_latent)},
    }  # fmt: skip
