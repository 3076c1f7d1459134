"""Where each dataset's raw data come from: one `sources` setting read in one place."""

import pytest

from pipelines.errors import ConfigError
from pipelines.stages import fetch, source
from tests.conftest import TINY, write_params


@pytest.mark.parametrize(
    ("setting", "kind", "folder"),
    [
        ({"ecg": "synthetic"}, "synthetic", "data/raw/synthetic_ecg"),
        ({"ecg": "physionet"}, "physionet", "data/raw/physionet/ptbdb"),
        ({"ecg": "inbox/ecg"}, "directory", "inbox/ecg"),
        ({"btc": "synthetic"}, "synthetic", "data/raw/synthetic_btc/bars"),
        ({"btc": "coinbase"}, "coinbase", "data/raw/coinbase"),
        ({"btc": "inbox/btc"}, "directory", "inbox/btc"),
    ],
)
def test_each_source_setting_names_its_folder_and_only_a_directory_is_watched(tiny_ws, setting, kind, folder):
    write_params(tiny_ws.root, {**TINY, "sources": setting})
    [dataset] = setting
    src = source(tiny_ws, dataset)
    assert src.kind == kind and src.directory == tiny_ws.root / folder
    assert src.watched == (kind == "directory")
    assert (src.factors_file is not None) == (dataset == "btc" and kind == "synthetic")


def test_another_datasets_download_is_an_error_naming_what_the_dataset_reads(tiny_ws):
    write_params(tiny_ws.root, {**TINY, "sources": {"ecg": "coinbase", "btc": "physionet", "ludb": "synthetic"}})
    with pytest.raises(ConfigError, match="sources.ecg is 'coinbase', which ecg cannot read; it reads synthetic or "
                                          "physionet or a directory"):  # fmt: skip
        source(tiny_ws, "ecg")
    with pytest.raises(ConfigError, match="sources.btc is 'physionet', which btc cannot read"):
        source(tiny_ws, "btc")
    with pytest.raises(ConfigError, match="sources.ludb is 'synthetic', which ludb cannot read; it reads physionet"):
        source(tiny_ws, "ludb")


def test_a_directory_source_is_read_as_it_is(tiny_ws):
    write_params(tiny_ws.root, {**TINY, "sources": {"ecg": "inbox/ecg"}})
    src, only, rejects = fetch(tiny_ws, "ecg")
    assert src.directory == tiny_ws.root / "inbox/ecg" and only is None and rejects == []
    assert not (tiny_ws.root / "inbox").exists() and not tiny_ws.synthetic_ecg_dir.exists()


def test_an_unknown_dataset_is_named(tiny_ws):
    with pytest.raises(ConfigError, match="no source for dataset 'eeg'"):
        source(tiny_ws, "eeg")
