"""Issue 26's last model candidate, measured: a 1-D convolutional encoder/decoder in place of the MLP, trained with
the same losses (pipelines.vae.losses.GridLoss), normalisation, optimiser and schedule, scored as
benchmarks.sweep_effect scores the sweep. Each model trains alone (no stacked grid for convolutions).

    python -m benchmarks.conv_variant data/ludb/training_set.npz [--seeds 3] [--configs tc12,b16_c0]
                                      [--width 32] [--epochs N]

The network: every channel of a sample (beat, RR) as an input channel; four stride-2 convolutions (width, width,
2 width, 2 width channels; kernel 7 then 5) and a 256-unit layer to the posterior; the decoder mirrors it with
transposed convolutions and crops to the sample length. The table goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from benchmarks.sweep_effect import baseline_scores, print_table, score_model, variant_arguments
from pipelines.dataset import TrainingSet
from pipelines.params import Params
from pipelines.vae.devices import flush_denormals_in_cpu_pool, flushed_denormals
from pipelines.vae.losses import GridLoss
from pipelines.vae.regularizers import Posterior, anneal_progress
from pipelines.vae.trainer import normalisation

log = logging.getLogger("benchmarks.conv_variant")


class ConvVAE(nn.Module):
    """The BetaVAE interface (encode/decode in data units, forward = reconstruction of the posterior mean) on
    samples stored flat (B, C * L), read as C channels of L points."""

    def __init__(self, channels: int, length: int, latent_dim: int, width: int, x_mean: float, x_std: float):
        super().__init__()
        self.channels, self.length = channels, length
        sizes = [channels, width, width, 2 * width, 2 * width]
        enc: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            k = 7 if i == 0 else 5
            enc += [nn.Conv1d(a, b, k, stride=2, padding=k // 2), nn.ReLU()]
        self.start = length
        for _ in range(4):
            self.start = (self.start + 1) // 2
        flat = 2 * width * self.start
        self.encoder = nn.Sequential(
            *enc, nn.Flatten(), nn.Linear(flat, 256), nn.ReLU(), nn.Linear(256, 2 * latent_dim)
        )
        dec: list[nn.Module] = [nn.Linear(latent_dim, 256), nn.ReLU(), nn.Linear(256, flat), nn.ReLU(),
                                nn.Unflatten(1, (2 * width, self.start))]  # fmt: skip
        up = [2 * width, 2 * width, width, width]
        for a, b in zip(up[:-1], up[1:], strict=True):
            dec += [nn.ConvTranspose1d(a, b, 4, stride=2, padding=1), nn.ReLU()]
        dec += [nn.ConvTranspose1d(width, channels, 4, stride=2, padding=1)]
        self.decoder = nn.Sequential(*dec)
        self.register_buffer("x_mean", torch.tensor(float(x_mean)))
        self.register_buffer("x_std", torch.tensor(float(x_std)))

    def encode_standardized(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x.view(len(x), self.channels, self.length)).chunk(2, dim=-1)
        return mu, logvar

    def decode_standardized(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)[..., : self.length].reshape(len(z), -1)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode_standardized((x - self.x_mean) / self.x_std)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decode_standardized(z) * self.x_std + self.x_mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)[0])


def train(data: TrainingSet, loss_cfg, seed: int, width: int, train_cfg) -> ConvVAE:
    """One ConvVAE trained as the pipeline trains one member: Adam, shuffled batches, the same loss and annealing."""
    x_train = data.part("train").x.astype(np.float32)
    mean, std = normalisation(x_train, train_cfg.likelihood)  # as the pipeline's trainer normalises
    torch.manual_seed(seed)
    model = ConvVAE(len(data.channels), len(data.axis), train_cfg.latent_dim, width, mean, std)
    x = (torch.from_numpy(x_train) - mean) / std
    opt = torch.optim.Adam(model.parameters(), lr=train_cfg.lr)
    loss_fn = GridLoss([loss_cfg], train_cfg.likelihood, train_cfg.recon_sigma)
    gen = torch.Generator().manual_seed(seed)
    steps_per_epoch = -(-len(x) // train_cfg.batch_size)
    anneal_steps = int(train_cfg.anneal_fraction * train_cfg.epochs * steps_per_epoch)
    step, t0 = 0, time.perf_counter()
    for epoch in range(train_cfg.epochs):
        order, total = torch.randperm(len(x), generator=gen), 0.0
        for start in range(0, len(x), train_cfg.batch_size):
            batch = x[order[start : start + train_cfg.batch_size]]
            mu, logvar = model.encode_standardized(batch)
            z = mu + torch.randn(mu.shape, generator=gen) * torch.exp(0.5 * logvar)
            post = Posterior(mu[None], logvar[None], z[None], anneal_progress(step, anneal_steps))
            loss, _ = loss_fn(batch, model.decode_standardized(z)[None], post)
            if not torch.isfinite(loss).all():
                raise FloatingPointError(f"{loss_cfg.name} seed {seed}: loss {loss.item()} at epoch {epoch + 1}")
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            step, total = step + 1, total + loss.item()
        log.info("%s seed %d epoch %d/%d loss %.2f (%.0f s)", loss_cfg.name, seed, epoch + 1, train_cfg.epochs,
                 total / steps_per_epoch, time.perf_counter() - t0)  # fmt: skip
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data")
    parser.add_argument("--width", type=int, default=32)
    variant_arguments(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    flush_denormals_in_cpu_pool()
    params = Params.load(args.params)
    train_cfg = replace(params.train, epochs=args.epochs or params.train.epochs)
    grid = [params.loss_config(name) for name in args.configs.split(",")]  # an unknown name fails before training
    data = TrainingSet.load(args.data)
    scores: dict[str, list[dict]] = {}
    t0 = time.perf_counter()
    for loss_cfg in grid:
        name = loss_cfg.name
        scores[f"conv {name}"] = []
        for seed in range(args.seeds):
            try:
                with flushed_denormals(torch.device("cpu")):  # as the trainer does while it trains
                    model = train(data, loss_cfg, seed, args.width, train_cfg)
            except FloatingPointError as err:
                scores[f"conv {name}"].append({"seed": seed, "failed": str(err)})
                continue
            scores[f"conv {name}"].append(score_model(model, data))
    elapsed = time.perf_counter() - t0
    scores |= baseline_scores(data)
    print(f"## Convolutional encoder/decoder: {args.data} ({len(data):,} samples), width {args.width}, "
          f"{args.seeds} seeds, {train_cfg.epochs} epochs, lr {train_cfg.lr:g}, recon σ {train_cfg.recon_sigma}, "
          f"{elapsed:.0f} s (training and scoring)\n")  # fmt: skip
    print_table(scores, data.factor_names)


if __name__ == "__main__":
    main()
