"""params.yaml loading: typed sections, unknown keys refused, the repository's params.yaml valid, read once."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.ecg.beats import BeatConfig
from pipelines.errors import ConfigError
from pipelines.params import Params
from pipelines.vae.config import TrainConfig
from pipelines.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]


def test_repository_params_fill_every_stage_config():
    ws = Workspace(REPO, REPO / "params.yaml")
    assert ws.params.train == TrainConfig(seeds=2)  # the code's default: one
    sweep = ws.params.sweep
    assert [c.name for c in sweep] == ["b1_c0", "b16_c0", "g1000_c10", "tc12", "dip10"]
    assert [c.kind for c in sweep] == ["beta", "beta", "capacity", "tcvae", "dipvae"]
    assert sweep[2].capacity_nats == 10.0 and sweep[2].gamma == 1000.0


def test_unknown_key_is_an_error_naming_file_section_and_key(tmp_path):
    (tmp_path / "params.yaml").write_text("beats:\n  fs_hz: 125.0\n  beat_lenght: 187\n")
    with pytest.raises(ConfigError, match=r"params.yaml:beats: unknown key\(s\) \['beat_lenght'\]"):
        Params.load(tmp_path / "params.yaml")


def test_missing_section_gives_defaults(tmp_path):
    (tmp_path / "params.yaml").write_text("train: {epochs: 3}\n")
    assert Params.load(tmp_path / "params.yaml").beats == BeatConfig()


def test_sweep_must_be_a_mapping(tmp_path):
    (tmp_path / "params.yaml").write_text("sweep:\n  - {name: b1_c0}\n")
    with pytest.raises(ConfigError, match="sweep must map config names"):
        Params.load(tmp_path / "params.yaml")


def test_sweep_config_is_found_by_name_and_a_missing_name_is_an_error(tmp_path):
    (tmp_path / "params.yaml").write_text("sweep:\n  b1_c0: {kind: beta}\n  b4_c0: {kind: beta, beta: 4}\n")
    assert Params.load(tmp_path / "params.yaml").loss_config("b4_c0").beta == 4.0
    with pytest.raises(ConfigError, match="no sweep config named 'b9_c9'"):
        Params.load(tmp_path / "params.yaml").loss_config("b9_c9")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("beat:\n  fs_hz: 125.0\n", r"unknown section\(s\) \['beat'\]"),
        ("beats: 5\n", "beats: expected a mapping of settings, got 5"),
        ("beats:\n  pre_s: fast\n", r"beats.pre_s: 'fast' is not a float"),
        ("beats:\n  leads: ii\n", r"beats.leads: 'ii' is not a tuple"),
    ],
)
def test_misspelt_sections_and_wrong_types_are_named(tmp_path, text, message):
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        Params.load(tmp_path / "params.yaml")


def test_ints_are_accepted_where_floats_are_expected(tmp_path):
    (tmp_path / "params.yaml").write_text("beats:\n  fs_hz: 250\n  leads: [i, ii]\n")
    cfg = Params.load(tmp_path / "params.yaml").beats
    assert cfg.fs_hz == 250.0 and isinstance(cfg.fs_hz, float) and cfg.leads == ("i", "ii")


def test_a_sweep_entry_must_name_its_model(tmp_path):
    (tmp_path / "params.yaml").write_text("sweep:\n  b4_c0: {beta: 4}\n")
    with pytest.raises(ConfigError, match=r"sweep.b4_c0: .*missing 1 required positional argument: 'kind'"):
        Params.load(tmp_path / "params.yaml").loss_config("b4_c0")


def test_the_file_is_read_once_and_again_when_it_changes(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("beats:\n  fs_hz: 250\n")
    first = Params.load(path)
    assert Params.load(path) is first  # one parse
    path.write_text("beats:\n  fs_hz: 125.5\n")
    assert Params.load(path).beats.fs_hz == 125.5


def test_a_missing_params_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="params.yaml: params file not found"):
        Params.load(tmp_path / "params.yaml")
