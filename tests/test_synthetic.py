"""The embedded default data: deterministic, idempotent, written atomically, factors saved beside it."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from pipelines.synthetic.btc import FACTORS_FILE, SyntheticBtcConfig, generate_btc
from pipelines.synthetic.ecg import FACTOR_RANGES, FACTORS, ST_MI_MV, SyntheticEcgConfig, generate_ecg


def _snapshot(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_ecg_generation_is_deterministic_and_rerun_is_a_no_op(tmp_path):
    cfg = SyntheticEcgConfig(n_patients=2, duration_s=10.0)
    generate_ecg(tmp_path / "a", cfg)
    generate_ecg(tmp_path / "b", cfg)
    assert _snapshot(tmp_path / "a") == _snapshot(tmp_path / "b")
    mtime = os.stat(tmp_path / "a" / "RECORDS").st_mtime_ns
    generate_ecg(tmp_path / "a", cfg)
    assert os.stat(tmp_path / "a" / "RECORDS").st_mtime_ns == mtime


def test_changed_config_regenerates_and_leaves_no_temporary_directory(tmp_path):
    generate_ecg(tmp_path / "ecg", SyntheticEcgConfig(n_patients=2, duration_s=10.0))
    generate_ecg(tmp_path / "ecg", SyntheticEcgConfig(n_patients=3, duration_s=10.0))
    assert len((tmp_path / "ecg" / "RECORDS").read_text().split()) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["ecg"]


def test_ecg_factors_are_saved_per_beat(tmp_path):
    generate_ecg(tmp_path, SyntheticEcgConfig(n_patients=2, duration_s=20.0))
    factors = pd.read_csv(tmp_path / "beat_factors.csv")
    assert list(factors.columns) == ["record", "r_sample", *FACTORS]
    assert factors.groupby("record").size().between(17, 34).all()  # 20 s at 55-100 bpm
    for name, (low, high) in FACTOR_RANGES.items():  # drawn per beat over the stated range (ST: MI's is higher)
        assert factors[name].between(low, ST_MI_MV[1] if name == "st_mv" else high).all()
    assert abs(np.corrcoef(factors.hr_bpm, factors.t_mv)[0, 1]) < 0.3  # independent of one another


def test_btc_factors_are_saved_per_window_block(tmp_path):
    generate_btc(tmp_path, SyntheticBtcConfig(days=1))
    factors = pd.read_csv(tmp_path / FACTORS_FILE)
    assert len(factors) == 1440 // 180
    assert list(factors.columns) == [
        "start",
        "trend",
        "volatility",
        "mean_reversion",
        "jump_rate",
        "volume_level",
    ]


def test_btc_factors_are_independent_and_uniform_and_the_price_stays_plausible(tmp_path):
    from pipelines.synthetic.btc import BARS_FILE, FACTOR_RANGES

    generate_btc(tmp_path, SyntheticBtcConfig(days=200))  # 1,600 blocks
    factors = pd.read_csv(tmp_path / FACTORS_FILE)
    for name, (low, high) in FACTOR_RANGES.items():
        assert factors[name].between(low, high).all()
        assert factors[name].std() == pytest.approx((high - low) / np.sqrt(12), rel=0.1)  # uniform's spread
    corr = np.corrcoef(factors[list(FACTOR_RANGES)].to_numpy().T)
    assert np.abs(corr[np.triu_indices(len(FACTOR_RANGES), 1)]).max() < 0.1
    close = pd.read_csv(tmp_path / BARS_FILE).close
    assert close.between(40000 / 3, 40000 * 3).all()  # the independent trends do not walk it away


def test_a_changed_generator_regenerates(tmp_path):
    """The manifest records the generator's source md5: data made by other code is not current."""
    cfg = SyntheticEcgConfig(n_patients=2, duration_s=10.0)
    generate_ecg(tmp_path / "ecg", cfg)
    manifest = tmp_path / "ecg" / "generator.json"
    manifest.write_text(manifest.read_text().replace('"generator_md5": "', '"generator_md5": "0'))
    generate_ecg(tmp_path / "ecg", cfg)
    assert '"generator_md5": "0' not in manifest.read_text()
