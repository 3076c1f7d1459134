"""The `evaluation` and `transfer` sections of params.yaml: how trained models are scored
(pipelines.evaluation.summary) and where the report's champions are reused zero-shot (pipelines.evaluation.transfer).
Kept apart from those modules so that reading params.yaml does not import torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvalConfig:
    num_bins: int = 20  # equal-width bins for codes and continuous factors (disentanglement_lib)
    active_kl_nats: float = 0.01  # a latent with mean KL above this is "active"
    traversal_limit: float = 3.0  # latents swept over [-limit, limit]
    traversal_steps: int = 7
    traversal_index: int = 0  # which test sample the traversals start from
    mig_points: int = 10_000  # samples MIG, SAP and modularity are estimated on (disentanglement_lib: 10 000)
    dci_points: int = 2_000  # samples DCI and explicitness fit their models on (train and test parts)
    dci_trees: int = 10  # gradient-boosted trees per factor in DCI (disentanglement_lib: 100; slow on CPU)
    intervention_points: int = 1000  # BetaVAE/FactorVAE training points (and half as many to evaluate on);
    #                                  disentanglement_lib: 10 000 and 5 000
    seed: int = 0  # draws the MIG sample when the data set is larger


@dataclass(frozen=True)
class TransferConfig:
    """Where the champions are reused zero-shot; paths relative to the project root, empty or missing: skipped."""

    ecg_wfdb: str = "../shared/data/mitdb"  # WFDB records (MIT-BIH Arrhythmia Database)
    ecg_lead: str = "mlii"
    btc_bars: str = "../shared/data/exchange"  # bar files of another period (real BTC/USD minutes)


@dataclass(frozen=True)
class DriftConfig:
    """params.yaml `drift`: when a latent's distribution on the data as now ingested has moved from the champion's
    training split (pipelines.evaluation.drift)."""

    ks_max: float = 0.2  # a latent moved when its two-sample KS statistic is above this...
    psi_max: float = 0.25  # ... or its population stability index is (effect sizes),
    alpha: float = 0.01  # and its KS p-value is below alpha / latents (not noise: a small sample's PSI is biased up)
    bins: int = 10  # PSI bins: the reference's quantiles
