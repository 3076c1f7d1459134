"""Patient-level splits of heartbeats (pipelines.ecg.splits)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.ecg.splits import patient_split


def test_patient_split_never_puts_a_patient_in_two_splits_and_stratifies_by_diagnosis():
    patients = np.repeat([f"p{i}" for i in range(20)], 7)
    diagnoses = np.where(np.arange(20) < 10, "MI", "healthy").repeat(7)
    split = patient_split(patients, diagnoses, val_fraction=0.2, test_fraction=0.2, seed=0)
    assert (pd.Series(split).groupby(patients).nunique() == 1).all()
    per_patient = pd.DataFrame({"p": patients, "d": diagnoses, "s": split}).drop_duplicates("p")
    assert (per_patient.groupby(["d", "s"]).size().unstack()[["test", "val"]] == 2).all().all()


def test_patient_split_tests_someone_even_when_no_diagnosis_can_be_stratified():
    patients = np.array(["a", "a", "b", "c"])
    split = patient_split(patients, np.array(["x", "x", "y", "z"]), 0.0, 0.25, seed=0)
    assert (split == "test").any() and (split == "train").any() and split[0] == split[1]


def test_patient_split_is_fixed_by_its_seed():
    patients = np.repeat([f"p{i}" for i in range(12)], 3)
    diagnoses = np.where(np.arange(12) % 2, "MI", "healthy").repeat(3)
    first = patient_split(patients, diagnoses, 0.25, 0.25, seed=7)
    assert np.array_equal(first, patient_split(patients, diagnoses, 0.25, 0.25, seed=7))
