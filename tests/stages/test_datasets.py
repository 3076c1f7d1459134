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


def test_model_stage_names_are_the_foreach_keys_of_dvc_yaml():
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    for stage in ("train", "traversals", "metrics"):
        assert dvc["stages"][stage]["matrix"]["dataset"] == "${datasets}"  # keys <dataset>-<config>
        assert stages.model_stage(stage, "ecg", "b16_c0") == f"{stage}@ecg-b16_c0"
    assert [*stages.DATASET_SPECS["btc"].stage_names()] == ["btc-generate", "btc-ingest", "btc-validate", "windows"]
