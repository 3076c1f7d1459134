"""Reading a record's leads for segmentation (pipelines.ecg.leads): the record checks and the reference lead."""

from __future__ import annotations

import pytest

from pipelines.ecg.beats import BeatConfig
from pipelines.ecg.leads import check_length_and_rate, read_leads
from pipelines.errors import IngestError
from tests.conftest import shared


def test_a_record_sampled_too_slowly_for_the_band_pass_is_rejected_by_name():
    with pytest.raises(IngestError, match=r"rec1: sampled at 80 Hz, too slowly for the 0.5-40 Hz band-pass"):
        check_length_and_rate("rec1", 10_000, 80.0, BeatConfig())


def test_a_record_shorter_than_two_seconds_is_rejected_by_name():
    with pytest.raises(IngestError, match=r"rec1: 1999 samples \(2.00 s\), shorter than the 2 s"):
        check_length_and_rate("rec1", 1999, 1000.0, BeatConfig())
    check_length_and_rate("rec1", 2000, 1000.0, BeatConfig())  # exactly 2 s is enough


def test_a_record_name_leaving_the_source_is_rejected_before_any_read():
    with pytest.raises(IngestError, match="path would leave"):
        read_leads(shared("ptbdb"), "../mitdb/100", 360.0, BeatConfig(leads=("mlii",), rpeak_lead=""))


def test_beat_leads_come_back_without_the_reference_lead_and_with_its_peaks():
    cfg = BeatConfig(leads=("v2", "avl"), rpeak_lead="ii")
    signal, names, peaks = read_leads(shared("ptbdb"), "patient002/s0015lre", 1000.0, cfg)
    assert names == ["v2", "avl"] and signal.shape[1] == 2 and 100 <= len(peaks) <= 200
    _, _, own = read_leads(shared("ptbdb"), "patient002/s0015lre", 1000.0, BeatConfig(rpeak_lead=""))
    assert own is None  # each lead finds its own peaks in cut_beats
