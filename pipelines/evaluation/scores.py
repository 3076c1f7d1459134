"""The one table of the scores a trained partition is judged by: each score's name (its key in metrics.json, the
MLflow metric `test_<name>` and the sweep.csv column) with its label in the report's table, and the named lists
drawn from it: the scores the report stage reads (SCORES), those tagged on a registered model version
(HEADLINES) and those the metrics stage shows in its counts (SUMMARY_SCORES). Each list keeps its own order,
because each order is visible somewhere: the report's columns, sweep.csv's columns, the counts' log line."""

from __future__ import annotations

SCORE_LABELS = {  # name -> label, in the report table's column order
    "recon_rmse": "recon RMSE",
    "recon_rmse_uv": "recon RMSE (µV)",
    "kl_total": "KL (nats)",
    "active_units": "active units",
    "mig": "MIG",
    "beta_vae_eval": "BetaVAE score",
    "factor_vae_eval": "FactorVAE score",
    "sap": "SAP",
    "dci_disentanglement": "DCI D",
    "dci_completeness": "DCI C",
    "dci_informativeness_test": "DCI I",
    "modularity": "modularity",
    "explicitness_test": "explicitness",
    "gaussian_total_correlation": "TC (nats)",
    "probe_mi_auroc": "MI probe AUROC",
    "probe_next_vol_r2": "next-vol probe R²",
    "probe_next_vol_r2_persistence": "persistence R²",
    "udr": "UDR",
    "mig_non_rr": "MIG w/o RR",
    "probe_ischemia_auroc": "ischemia probe AUROC",
    "probe_lvh_auroc": "LVH probe AUROC",
    "probe_sinus_rhythm_auroc": "sinus rhythm probe AUROC",
}
ORACLE = "factors (oracle)"  # the baseline row of annotated data whose codes are the factors themselves: a ceiling
INTERVENTION_SCORES = ("beta_vae_eval", "factor_vae_eval")  # pipelines.evaluation.intervention
# the scores the report stage reads from metrics.json, in sweep.csv's column order: the intervention scores were
# added last and stay last there, so the CSV (a DVC output) keeps its columns
SCORES = tuple(name for name in SCORE_LABELS if name not in INTERVENTION_SCORES) + INTERVENTION_SCORES
HEADLINES = ("mig", "dci_disentanglement", "udr")  # tagged on each registered model version, as test_<name>
# the metrics stage's counts (CLI log line, asset metadata): reconstruction, the headline pair, the probes
SUMMARY_SCORES = ("recon_rmse", "kl_total", "active_units", "mig", "udr", "probe_mi_auroc", "probe_next_vol_r2")


def is_number(value) -> bool:
    """Whether `value` can be a score: an int or a float (NaN included), not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)
