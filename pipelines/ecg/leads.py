"""The leads a record's beats are cut from, read once (steps 1-2 of the recipe in pipelines.ecg.beats): the
record checked for what segmentation needs (a safe name, a rate fast enough for the band-pass, at least
MIN_RECORD_S of signal) and the R peaks of its reference lead, which serve every lead of the simultaneous
recording."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipelines.ecg.records import read_signal, safe_record_name
from pipelines.ecg.rpeaks import bandpass, detect_rpeaks
from pipelines.errors import IngestError

if TYPE_CHECKING:
    from pipelines.ecg.beats import BeatConfig

MIN_RECORD_S = 2.0  # R-peak detection looks at 2-second maxima; a shorter record has no beat to find


def check_length_and_rate(record: str, n_samples: int, fs_hz: float, cfg: BeatConfig) -> None:
    """Raise IngestError naming the record when it is sampled too slowly for the band-pass (the filter needs its
    upper edge below fs/2) or too short to filter and segment (MIN_RECORD_S)."""
    low, high = cfg.bandpass_hz
    if not fs_hz > 2 * high:
        raise IngestError(f"{record}: sampled at {fs_hz:g} Hz, too slowly for the {low:g}-{high:g} Hz band-pass "
                          f"(needs more than {2 * high:g} Hz)")  # fmt: skip
    if n_samples < MIN_RECORD_S * fs_hz:
        raise IngestError(f"{record}: {n_samples} samples ({n_samples / fs_hz:.2f} s), shorter than the "
                          f"{MIN_RECORD_S:g} s needed to find beats")  # fmt: skip


def read_leads(
    source: Path, record: str, fs_hz: float, cfg: BeatConfig
) -> tuple[np.ndarray, list[str], np.ndarray | None]:
    """The record's beat leads `cfg.leads` (n_samples, n_leads) in mV, their names, and the R peaks (samples at
    `fs_hz`) of the reference lead `cfg.rpeak_lead` (None: detect on each lead), in one read. Small-QRS leads
    (aVL, III) have T waves as tall as their R waves; detecting once on a lead with a clear QRS keeps all leads'
    beats aligned. Raises IngestError naming the record when its name would leave `source`, it cannot be read,
    lacks a lead, or fails check_length_and_rate."""
    wanted = [lead.lower() for lead in cfg.leads]
    ref = cfg.rpeak_lead.lower()
    signal, names = read_signal(source, safe_record_name(record), wanted + ([ref] if ref and ref not in wanted else []))
    check_length_and_rate(record, len(signal), fs_hz, cfg)
    if not ref:
        return signal, names, None
    peaks = detect_rpeaks(bandpass(signal[:, names.index(ref)], fs_hz, *cfg.bandpass_hz), fs_hz)
    return signal[:, : len(wanted)], names[: len(wanted)], peaks
