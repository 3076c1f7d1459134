"""Heartbeat segmentation on real PTB records and synthetic records with known factors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.ecg.beats import BeatConfig, beat_axis_ms, patient_split, segment_beats
from pipelines.ecg.records import ingest_records
from pipelines.synthetic.ecg import SyntheticEcgConfig, generate_ecg
from tests.conftest import shared


def test_real_ptb_beats_are_cut_around_r_with_proxy_factors():
    records, _ = ingest_records(shared("ptbdb"))
    beats, rejects = segment_beats(records, shared("ptbdb"), BeatConfig())
    assert beats.x.shape[1] == len(beat_axis_ms(BeatConfig())) == 100
    assert beats.factor_kind == "proxy" and beats.factor_names == ["hr_bpm", "healthy"]
    per_record = beats.labels.groupby("record").size()
    assert set(per_record.index) == set(records.record)
    # the 115 s records at 60-100 bpm hold 100-200 beats each
    assert per_record.drop("patient001/s0010_re").between(100, 200).all(), per_record
    r_index = np.flatnonzero(beat_axis_ms(BeatConfig()) == 0)[0]
    assert (np.abs(beats.x[:, r_index]) >= 0.5 * np.abs(beats.x).max(axis=1)).mean() > 0.9  # R peak at t = 0
    assert beats.labels.hr_bpm.between(40, 150).all()


def test_synthetic_beats_carry_their_true_factors(tmp_path):
    generate_ecg(tmp_path / "ecg", SyntheticEcgConfig(n_patients=3, duration_s=30.0))
    records, _ = ingest_records(tmp_path / "ecg")
    beats, rejects = segment_beats(records, tmp_path / "ecg", BeatConfig())
    assert beats.factor_kind == "generative" and "st_mv" in beats.factor_names
    truth = pd.read_csv(tmp_path / "ecg" / "beat_factors.csv")
    assert len(beats) >= 0.9 * len(truth)  # beats at the record edges fall outside the window
    hr = beats.factors[:, beats.factor_names.index("hr_bpm")]
    assert np.corrcoef(hr, beats.labels.hr_bpm)[0, 1] > 0.6  # measured RR agrees with the generator's rate


def test_patient_split_never_puts_a_patient_in_two_splits():
    patients = np.repeat([f"p{i}" for i in range(10)], 7)
    split = patient_split(patients, 0.3, seed=0)
    by_patient = pd.Series(split).groupby(patients).nunique()
    assert (by_patient == 1).all()
    assert set(split) == {"train", "test"} and (split == "test").sum() == 3 * 7
