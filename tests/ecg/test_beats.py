"""Heartbeat segmentation (pipelines.ecg.beats) on real PTB records and synthetic records with known factors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.ecg.beats import (
    EDGE_REASONS,
    RECIPES,
    BeatConfig,
    beat_axis_ms,
    beat_rows,
    cut_beats,
    normalize_beats,
    pre_r_samples,
    record_beats,
    segment_beats,
)
from pipelines.ecg.records import ingest_records
from pipelines.errors import IngestError
from pipelines.synthetic.ecg import SyntheticEcgConfig, generate_ecg
from tests.conftest import shared


def test_real_ptb_beats_are_cut_around_r_with_proxy_factors():
    records, _ = ingest_records(shared("ptbdb"))
    beats, rejects = segment_beats(records, shared("ptbdb"), BeatConfig())
    assert beats.x.shape[1] == len(beat_axis_ms(BeatConfig())) == 187
    assert beats.factor_kind == "proxy" and beats.factor_names == ["hr_bpm", "qrs_ms", "st_mv", "t_mv", "healthy"]
    qrs = beats.factors[:, 1]
    assert 40 <= np.median(qrs) <= 120  # a rough fiducial rule: the median QRS proxy is physiological
    per_record = beats.labels.groupby("record").size()
    assert set(per_record.index) == set(records.record)
    # the 115 s records at 60-100 bpm hold 100-200 beats each
    assert per_record.drop("patient001/s0010_re").between(100, 200).all(), per_record
    r_index = np.flatnonzero(beat_axis_ms(BeatConfig()) == 0)[0]
    assert (np.abs(beats.x[:, r_index]) >= 0.5 * np.abs(beats.x).max(axis=1)).mean() > 0.9  # R peak at t = 0
    assert beats.labels.hr_bpm.between(40, 150).all()


def test_every_detected_beat_is_kept_or_quarantined():
    records, _ = ingest_records(shared("ptbdb"))
    beats, rejects = segment_beats(records, shared("ptbdb"), BeatConfig())
    from pipelines.ecg.records import read_signal
    from pipelines.ecg.rpeaks import bandpass, detect_rpeaks

    detected = 0
    for rec in records.itertuples():
        lead_ii = read_signal(shared("ptbdb"), rec.record, ["ii"])[0][:, 0]
        detected += len(detect_rpeaks(bandpass(lead_ii, 1000.0, 0.5, 40.0), 1000.0))
    edge = [r for r in rejects if r.reason in EDGE_REASONS]
    assert len(edge) > 0 and len(beats) + len(rejects) == detected
    for reject in edge:  # each names the end it is near
        record, r_peak = reject.item.split(":")[0], int(reject.item.split("@")[1])
        n_samples = records.set_index("record").n_samples[record]
        assert (reject.reason == EDGE_REASONS[0]) == (r_peak < 0.3 * 1000) and r_peak < n_samples


def test_synthetic_beats_carry_their_true_factors(tmp_path):
    generate_ecg(tmp_path / "ecg", SyntheticEcgConfig(n_patients=3, duration_s=30.0))
    records, _ = ingest_records(tmp_path / "ecg")
    beats, rejects = segment_beats(records, tmp_path / "ecg", BeatConfig(rr_channel=True))
    assert beats.factor_kind == "generative" and "st_mv" in beats.factor_names
    assert beats.channel_names == ["mV", "RR to the next beat - 0.8 s"] and beats.x.shape[1] == 2 * len(beats.axis)
    truth = pd.read_csv(tmp_path / "ecg" / "beat_factors.csv")
    assert len(beats) >= 0.9 * len(truth)  # beats at the record edges fall outside the window
    hr = beats.factors[:, beats.factor_names.index("hr_bpm")]
    # the generator's rate is that of the RR interval from the beat to the next (what the bounded recipe shows):
    # the next beat's label, whose RR is the one before it
    same_record = beats.labels.record.to_numpy()[1:] == beats.labels.record.to_numpy()[:-1]
    error = np.abs(hr[:-1] - beats.labels.hr_bpm.to_numpy()[1:])[same_record]
    assert np.median(error) < 0.5, np.median(error)
    rate = 60.0 / (beats.x[:, len(beats.axis)] + 0.8)  # the RR channel as a rate: the generator's, to the next beat
    assert np.mean(np.abs(rate - hr) < 0.5) > 0.95  # all but a record's last beat, which takes its RR before


def test_the_bounded_recipe_keeps_the_beat_alone():
    """Samples from the next beat's window start (next R - pre_s) on are 0 mV; the beat's own are kept."""
    cfg = BeatConfig(recipe="bounded", pre_s=0.25, post_s=0.95)
    fs, rr_s = 1000.0, 0.8
    t = np.arange(int(30 * fs)) / fs
    lead = np.exp(-0.5 * ((t % rr_s - 0.4) / 0.01) ** 2)  # one spike every 0.8 s
    cut = cut_beats(lead, fs, cfg)
    assert cut.beats.shape[1] == 150 and cut.beats.shape == cut.beats_mv.shape
    rr = int(round(rr_s * cfg.fs_hz))  # 100 samples at 125 Hz: the next beat's window starts there
    inner = cut.beats[:-1]  # the record's last beat has no next R: it keeps its whole window
    assert np.all(inner[:, rr:] == 0.0) and np.all(cut.beats_mv[:-1, rr + 31] > 0.5)  # the next R, cut away
    assert np.all(inner[:, 31] > 0.5)  # the beat's own R peak (pre_s = 31 samples in)


def test_the_rr_channel_holds_each_beats_rr_to_the_next_and_escapes_per_beat_normalisation():
    cfg = BeatConfig(recipe="bounded", pre_s=0.25, post_s=0.95, normalize="zscore", rr_channel=True)
    fs = 1000.0
    rr = np.tile([0.7, 0.9, 1.0], 12)  # s from each beat to the next
    peaks = (1000 + np.concatenate([[0], np.cumsum(rr)]) * fs).astype(int)
    t = np.arange(peaks[-1] + 3000)
    lead = sum(np.exp(-0.5 * ((t - p) / 10.0) ** 2) for p in peaks)
    cut = cut_beats(lead, fs, cfg)
    rows = beat_rows(cut, cfg)
    assert rows.shape == (len(cut.beats), 300)
    channel = rows[:, 150:]
    assert np.all(channel == channel[:, :1])  # flat over the beat
    next_rr = np.diff(cut.r_peaks) / fs
    assert np.allclose(channel[:-1, 0] + 0.8, next_rr) and np.allclose(next_rr, rr[: len(next_rr)], atol=2e-3)
    assert np.isclose(channel[-1, 0] + 0.8, cut.rr_s[-1])  # the last beat: its preceding RR
    assert np.allclose(rows[:, :150].mean(axis=1), 0, atol=1e-6)  # z-scored beat, untouched channel


def test_kachuee_recipe_gives_187_samples_from_r_zero_padded_after_1_2_rr():
    cfg = BeatConfig(recipe="kachuee")
    fs, rr_s = 1000.0, 0.8
    t = np.arange(int(30 * fs)) / fs
    lead = np.exp(-0.5 * ((t % rr_s - 0.4) / 0.01) ** 2)  # one spike every 0.8 s
    cut = cut_beats(lead, fs, cfg)
    beats, r_peaks = cut.beats, cut.r_peaks
    assert beats.shape[1] == 187 and cut.beats_mv.shape == beats.shape
    assert np.allclose(np.diff(r_peaks), rr_s * fs, atol=2)
    kept = int(round(1.2 * rr_s * cfg.fs_hz))  # 120 samples at 125 Hz
    assert np.all(beats[:, kept:] == 0.0)
    inner = r_peaks < 20 * fs  # the last 10 s window holds the band-pass filter's edge transient
    assert np.all(beats[inner, 0] > 0.99)  # starts at the R peak, its 10 s window scaled to [0, 1]
    assert np.all(np.abs(beats[inner, 20:80]) < 0.01)  # flat between this R and the next


def test_zscore_normalisation_is_per_beat():
    beats = np.random.default_rng(0).normal(3, 2, (4, 50))
    z = normalize_beats(beats, "zscore")
    assert np.allclose(z.mean(axis=1), 0) and np.allclose(z.std(axis=1), 1)


def test_all_15_ptb_leads_share_the_reference_leads_r_peaks():
    """Regression: detecting on aVL and III of patient002 found T waves too (278 RR-outlier beats)."""
    leads = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6", "vx", "vy", "vz")
    records, _ = ingest_records(shared("ptbdb"))
    records = records[records.record == "patient002/s0015lre"]
    beats, rejects = segment_beats(records, shared("ptbdb"), BeatConfig(leads=leads))
    per_lead = beats.labels.groupby("lead").r_sample.apply(tuple)
    assert {r.reason for r in rejects} <= set(EDGE_REASONS)  # no RR outliers any more
    assert len(per_lead) == 15 and per_lead.nunique() == 1  # the same beats in every lead


@pytest.mark.parametrize("recipe", RECIPES)
def test_the_r_peak_lies_at_time_zero_on_sample_pre_of_every_recipe(recipe):
    cfg = BeatConfig(recipe=recipe)
    axis = beat_axis_ms(cfg)
    assert axis[pre_r_samples(cfg)] == 0.0 and np.allclose(np.diff(axis), 1000.0 / cfg.fs_hz)
    assert pre_r_samples(cfg) == (0 if recipe == "kachuee" else 31)  # 0.25 s at 125 Hz


def test_segment_beats_keeps_exactly_the_beats_record_beats_passes():
    """One beat cutter: the training set's rows of a record are the cutter's quality-passing rows."""
    records, _ = ingest_records(shared("ptbdb"))
    records = records[records.record == "patient001/s0014lre"]
    cfg = BeatConfig(leads=("ii", "v2"), recipe="bounded", rr_channel=True)
    beats, _ = segment_beats(records, shared("ptbdb"), cfg)
    leads = record_beats(shared("ptbdb"), "patient001/s0014lre", 1000.0, cfg)
    assert [lead.lead for lead in leads] == ["ii", "v2"]
    rows = np.concatenate([beat_rows(lead.cut, cfg)[lead.reasons == ""] for lead in leads]).astype(np.float32)
    assert np.array_equal(beats.x, rows)
    assert all(r.routine and r.item.startswith("patient001/s0014lre:") for lead in leads for r in lead.edge_rejects)


def test_record_beats_refuses_a_record_name_that_leaves_the_source():
    with pytest.raises(IngestError, match="path would leave"):
        record_beats(shared("ptbdb"), "/etc/passwd", 1000.0, BeatConfig())
