"""The datasets' specs against dvc.yaml: data and model stage names, dataset list."""

from __future__ import annotations

import yaml

from pipelines import stages
from tests.conftest import REPO


def test_each_dataset_spec_lists_the_datasets_and_data_stages_of_dvc_yaml():
    """dvc.yaml cannot import the specs, so its dataset list and stage commands are checked against them."""
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    assert dvc["vars"][0]["datasets"] == list(stages.DATASETS)
    for spec in stages.DATASET_SPECS.values():
        for name in spec.stages():
            assert dvc["stages"][name]["cmd"] == f"python -m pipelines {name}"


def test_model_stage_names_are_the_keys_of_the_dvc_yaml_matrix():
    """dvc.yaml names a matrix stage's instances <stage>@<dataset>-<config>, in the order of its matrix keys."""
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    for stage in ("train", "traversals", "metrics"):
        assert list(dvc["stages"][stage]["matrix"]) == ["dataset", "config"]
        assert stages.model_stage(stage, "ecg", "b16_c0") == f"{stage}@ecg-b16_c0"
    assert list(stages.DATASET_SPECS["btc"].stages()) == ["btc-generate", "btc-ingest", "btc-validate", "windows"]
