"""Patient-level train/val/test splits of heartbeats, stratified by diagnosis: no patient's beats appear in two
splits, so a model is never scored on a patient whose other beats it was trained on."""

from __future__ import annotations

import numpy as np
import pandas as pd


def patient_split(
    patients: np.ndarray, diagnoses: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> np.ndarray:
    """'train'/'val'/'test' per row; every patient's rows share one split. Patients are drawn per diagnosis
    (stratified) where a diagnosis has enough patients to give each split at least one; the rest train. At least
    one patient is tested whenever there are two or more."""
    table = pd.DataFrame({"patient": patients, "diagnosis": diagnoses}).drop_duplicates("patient")
    rng = np.random.default_rng(seed)
    assigned: dict[str, str] = {}
    for _, group in sorted(table.groupby("diagnosis"), key=lambda g: str(g[0])):
        ids = rng.permutation(sorted(group.patient))
        n_test, n_val = int(round(test_fraction * len(ids))), int(round(val_fraction * len(ids)))
        if n_test + n_val >= len(ids):  # too few patients with this diagnosis to stratify
            n_test = n_val = 0
        assigned |= {p: "test" for p in ids[:n_test]} | {p: "val" for p in ids[n_test : n_test + n_val]}
    everyone = sorted(table.patient)
    if test_fraction > 0 and len(everyone) > 1 and "test" not in assigned.values():
        untested = [p for p in rng.permutation(everyone) if p not in assigned]
        assigned[untested[0]] = "test"
    return np.array([assigned.get(p, "train") for p in patients])
