"""The `train` section of params.yaml: how every model of a sweep is trained (pipelines.vae.trainer). Kept apart
from the trainer so that reading params.yaml does not import torch."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.errors import ConfigError


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
