"""The heartbeat quality filter (pipelines.ecg.quality) on hand-built beats."""

from __future__ import annotations

import numpy as np

from pipelines.ecg.beats import BeatConfig
from pipelines.ecg.quality import beat_quality


def test_quality_filter_names_each_failure():
    rng = np.random.default_rng(0)
    good = np.sin(np.linspace(0, np.pi, 100))[None].repeat(5, axis=0)
    beats = good.copy()
    beats[1] *= 0.01  # flat
    beats[2] += rng.normal(0, 0.3, 100)  # noisy
    beats[3] *= 20  # clipped
    rr = np.array([0.8, 0.8, 0.8, 0.8, 2.0])  # the last one is an RR outlier
    reasons = beat_quality(beats, rr, BeatConfig())
    assert reasons[0] == ""
    assert reasons[1].startswith("flat") and reasons[2].startswith("noisy") and reasons[3].startswith("clipped")
    assert reasons[4].startswith("rr outlier")


def test_a_beat_failing_two_tests_carries_both_reasons():
    beats = np.sin(np.linspace(0, np.pi, 100))[None].repeat(3, axis=0)
    beats[2] *= 20  # clipped
    reasons = beat_quality(beats, np.array([0.8, 0.8, 2.0]), BeatConfig())
    assert reasons[2] == "clipped (|x| > 8 mV or non-finite); rr outlier (> 50% from the median RR)"


def test_no_beats_give_no_reasons():
    assert beat_quality(np.zeros((0, 100)), np.zeros(0), BeatConfig()).shape == (0,)
