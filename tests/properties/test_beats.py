"""Property test of heartbeat segmentation: a WFDB record holding any signal (noise, spikes, flat lines, NaN
runs, clipping) of any length at any sampling rate gives beats of the configured length with finite values and a
reject for everything set aside, or a DataValidationError when no beat at all could be cut; never another
exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import event, given, settings
from hypothesis import strategies as st

from pipelines.ecg.beats import BeatConfig, beat_axis_ms, segment_beats
from pipelines.errors import DataValidationError

WFDB_NAN = -32768  # format 16's "no sample" value, read back as NaN


@st.composite
def ecg_signals(draw):
    """(fs_hz, digital samples (n, 1) int16 at 200 adu/mV): a spike train at a random rate on noise and wander,
    pure noise, a flat line or a square wave, maybe with NaN runs or clipped stretches."""
    fs = draw(st.sampled_from([50.0, 80.0, 100.0, 125.0, 250.0, 360.0, 500.0, 1000.0]))
    seconds = draw(st.sampled_from([0.05, 1.5, 3.0, 6.0, 12.0, 12.0, 20.0]))
    n = max(1, int(fs * seconds))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    t = np.arange(n) / fs
    kind = draw(st.sampled_from(["beats"] * 4 + ["noise", "flat", "square"]))
    if kind == "beats":
        rr = draw(st.sampled_from([0.4, 0.8, 1.0, 1.2, 2.5]))
        mv = 1.5 * np.exp(-(((t % rr) - rr / 2) ** 2) / (2 * 0.01**2)) + 0.2 * np.sin(2 * np.pi * 0.3 * t)
        mv += rng.normal(0, draw(st.sampled_from([0.0, 0.02, 0.02, 0.5])), n)
    elif kind == "noise":
        mv = rng.normal(0, draw(st.sampled_from([0.01, 1.0, 50.0])), n)
    elif kind == "flat":
        mv = np.full(n, draw(st.sampled_from([0.0, 3.0])))
    else:
        mv = np.where((t % 1.0) < 0.5, 2.0, -2.0)
    digital = np.clip(np.round(mv * 200), -32767, 32767).astype(np.int16)
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        start, length = draw(st.integers(0, n - 1)), draw(st.integers(1, max(1, n // 3)))
        digital[start : start + length] = WFDB_NAN if draw(st.booleans()) else 32767
    return fs, digital[:, None]


@settings(max_examples=80)
@given(
    signal=ecg_signals(),
    recipe=st.sampled_from(["centred", "kachuee"]),
    normalize=st.sampled_from(["none", "minmax", "zscore"]),
)
def test_any_signal_gives_beats_of_the_configured_length_or_a_data_validation_error(signal, recipe, normalize):
    import wfdb

    fs, digital = signal
    cfg = BeatConfig(recipe=recipe, normalize=normalize)
    records = pd.DataFrame({"record": ["rec"], "patient": ["p1"], "fs_hz": [fs], "diagnosis": ["n/a"],
                            "healthy": [False]})  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        wfdb.wrsamp("rec", fs=fs, units=["mV"], sig_name=["ii"], d_signal=digital, fmt=["16"], adc_gain=[200.0],
                    baseline=[0], write_dir=tmp)  # fmt: skip
        try:
            beats, rejects = segment_beats(records, Path(tmp), cfg)
        except DataValidationError as e:
            assert "no heartbeats could be cut" in str(e)
            event("no beats")
            return
    event("beats")
    assert beats.x.shape == (len(beats), len(beat_axis_ms(cfg))) and len(beats) >= 1
    assert np.isfinite(beats.x).all()
    if recipe == "kachuee" and normalize == "none":
        assert beats.x.min() >= 0.0 and beats.x.max() <= 1.0
    assert all(r.item.startswith("rec") and r.reason for r in rejects)
