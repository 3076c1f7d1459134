"""One point of the beta/C sweep, without torch: the CLI and the Dagster definitions read the sweep from
params.yaml at import time and should not pay for importing torch to do so (pipelines.vae.losses uses it)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.errors import ConfigError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class LossConfig:
    """One point of the beta/C sweep. capacity_nats = 0 gives the beta-VAE loss, > 0 the capacity loss."""

    name: str  # partition key, e.g. "b4_c0" or "g1000_c25"
    beta: float = 1.0  # KL weight of the beta-VAE loss (used when capacity_nats == 0)
    capacity_nats: float = 0.0  # target capacity C (Burgess et al. 2018: 25 nats on dSprites)
    gamma: float = 1000.0  # weight of |KL - C(t)| (Burgess et al. 2018)

    def __post_init__(self):
        if self.beta < 0 or self.capacity_nats < 0 or self.gamma < 0:
            raise ConfigError(f"sweep config {self.name}: beta, capacity_nats and gamma must be >= 0")
        if not _NAME.fullmatch(self.name) or "..." in self.name:
            raise ConfigError(
                f"sweep config {self.name!r}: a name is letters, digits, _ . - (it is a Dagster partition key, a "
                "directory name and an MLflow tag)"
            )
