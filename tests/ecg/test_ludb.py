"""LUDB's cardiologist marks read into per-beat expert factors (issue 26): known beats checked to the sample."""

import numpy as np
import pytest

from pipelines.ecg.ludb import FACTORS, Wave, expert_factors, parse_waves, read_waves
from pipelines.ecg.records import read_signal
from pipelines.errors import IngestError
from tests.conftest import shared


def test_marks_pair_each_peak_with_its_own_onset_and_offset_and_leave_cut_waves_open():
    samples = np.array([5, 20, 30, 34, 40, 52, 80, 95])
    symbols = ["t", ")", "(", "p", ")", "(", "N", ")"]
    assert parse_waves(samples, symbols) == [
        Wave("t", 5, None, 20),  # the record starts inside it: no onset
        Wave("p", 34, 30, 40),
        Wave("qrs", 80, 52, 95),
    ]
    assert parse_waves(np.array([10, 12]), ["(", "N"]) == [Wave("qrs", 12, 10, None)]  # cut by the record's end


def test_record_1_lead_ii_gives_the_hand_read_factors():
    """data/1, lead ii (sinus bradycardia): QRS ( 644 N 662 ) 682, T ( 776 t 843 ) 878; next P ( 1250 p 1278,
    QRS ( 1324 N 1342 ) 1374: read off the .ii file by hand."""
    source = shared("ludb")
    signal, _ = read_signal(source, "data/1", ["ii"])
    beats = expert_factors(read_waves(source, "data/1", "ii"), signal[:, 0])
    assert list(beats.columns) == ["r_sample", "qrs_onset", *FACTORS]
    first, second = beats.iloc[0], beats.iloc[1]
    assert first.r_sample == 662 and second.r_sample == 1342 and second.qrs_onset == 1324
    assert first.rr_s == (1342 - 662) / 500
    assert first.qrs_s == (682 - 644) / 500 and first.qt_s == (878 - 644) / 500
    assert first.t_amp == signal[843, 0] - signal[644, 0]  # T peak above the PR segment's end
    assert second.pr_s == (1324 - 1250) / 500 and second.p_amp == signal[1278, 0] - signal[1324, 0]
    assert np.ptp(signal[:, 0]) == pytest.approx(1.0)  # LUDB's gains: each lead spans 1.0, amplitudes are relative


def test_a_beat_without_its_p_wave_keeps_its_other_factors():
    source = shared("ludb")
    signal, _ = read_signal(source, "data/1", ["ii"])
    first = expert_factors(read_waves(source, "data/1", "ii"), signal[:, 0]).iloc[0]  # its P lies before 0 s
    assert np.isnan(first.pr_s) and np.isnan(first.p_amp)
    assert np.isfinite([first.rr_s, first.qrs_s, first.qt_s, first.t_amp]).all()


def test_the_last_beat_has_no_rr_and_a_t_wave_cut_by_the_record_end_has_no_qt():
    waves = [Wave("qrs", 100, 90, 110), Wave("t", 200, 150, None), Wave("p", 380, 370, 390), Wave("qrs", 420, 410, 430)]
    signal = np.linspace(0.0, 1.0, 500)
    beats = expert_factors(waves, signal, fs_hz=100.0)
    assert beats.rr_s.tolist()[0] == pytest.approx(3.2) and np.isnan(beats.rr_s.iloc[1])
    assert np.isnan(beats.qt_s.iloc[0]) and beats.t_amp.iloc[0] == pytest.approx(signal[200] - signal[90])
    assert beats.pr_s.iloc[1] == pytest.approx(0.4) and np.isnan(beats.pr_s.iloc[0])


def test_missing_annotations_name_the_record_and_lead(tmp_path):
    with pytest.raises(IngestError, match=r"data/1: no readable 'ii' annotations"):
        read_waves(tmp_path, "data/1", "ii")


def test_the_annotation_reader_gives_what_wfdb_gives_on_ludb_files():
    import wfdb

    from pipelines.ecg.ludb import LEADS, read_annotations

    source = shared("ludb")
    for record in ("data/1", "data/8", "data/57", "data/111", "data/200"):
        for lead in LEADS:
            samples, symbols = read_annotations(source / f"{record}.{lead}")
            reference = wfdb.rdann(str(source / record), lead)
            assert np.array_equal(samples, reference.sample) and symbols == list(reference.symbol), (record, lead)


def test_the_annotation_reader_follows_skips_notes_and_field_codes(tmp_path):
    import wfdb

    from pipelines.ecg.ludb import read_annotations

    # gaps beyond 10 bits (SKIP words), AUX notes of odd and even length,
    # subtype/chan/num fields (SUB, CHN, NUM words); symbols of every kind LUDB uses and one it does not
    sample = np.array([3, 1500, 1510, 70000, 70001, 70002, 200000])
    symbol = ["(", "N", ")", "p", "t", "V", "~"]
    fields = {"subtype": np.array([0, 1, 0, 2, 0, 0, 3]), "chan": np.array([0, 0, 1, 1, 0, 0, 2]),
              "num": np.array([0, 0, 0, 5, 0, 0, 0]),
              "aux_note": ["", "a", "", "odd", "even", "", "(AFIB"]}  # fmt: skip
    wfdb.wrann("rec", "ii", sample, symbol, write_dir=str(tmp_path), **fields)
    samples, symbols = read_annotations(tmp_path / "rec.ii")
    reference = wfdb.rdann(str(tmp_path / "rec"), "ii")
    assert samples.tolist() == sample.tolist() == reference.sample.tolist()
    assert symbols == symbol == list(reference.symbol)


def test_a_truncated_annotation_file_names_the_record_and_lead(tmp_path):
    (tmp_path / "data").mkdir()
    good = (shared("ludb") / "data" / "1.ii").read_bytes()
    (tmp_path / "data" / "1.ii").write_bytes(good[:-3])  # an odd length: cut inside a word
    with pytest.raises(IngestError, match=r"data/1: no readable 'ii' annotations \(ValueError: 1.ii: odd length"):
        read_waves(tmp_path, "data/1", "ii")
