"""Data assets, one chain per dataset, built from its DatasetSpec (pipelines.stages.datasets): raw data -> validated
(a blocking Great Expectations check) -> training set (a blocking sample check). Each asset is one call to the
dataset's stage; what differs between the datasets beyond the stages is what the UI shows, in `SHOWN`."""

from typing import NamedTuple

import dagster as dg

from assets.partitions import UPDATE_WHEN_UPSTREAM_CHANGES
from assets.resources import WorkspaceResource
from assets.results import materialize_result
from pipelines.stages import DATASET_SPECS, DatasetSpec, sources
from pipelines.stages.datasets import Stage


class Shown(NamedTuple):
    """How a dataset's data assets appear in the Dagster UI. The validated asset and its check are named for the
    raw `item` (gx_record_suite), the training set's check for its `sample` (gx_beat_suite)."""

    raw: str  # asset names
    validated: str
    training_set: str
    raw_kinds: tuple[str, ...]
    raw_description: str
    training_set_description: str
    item: str  # what the raw table holds one of
    sample: str  # what the training set holds one of


# The checks: gx_record_suite and gx_beat_suite (ecg), gx_bar_suite and gx_window_suite (btc).
SHOWN = {
    "ecg": Shown(raw="ecg_raw_records", validated="ecg_records_validated", training_set="heartbeats",
                 raw_kinds=("wfdb", "parquet"), item="record", sample="beat", raw_description="One row per WFDB "
                 "record of the configured source (synthetic default or a PTB-layout directory).",
                 training_set_description="Beats cut around R peaks of validated records; the recipe is "
                 "pipelines.ecg.beats.segment_beats."),
    "btc": Shown(raw="btc_raw_bars", validated="btc_bars_validated", training_set="price_windows",
                 raw_kinds=("csv", "parquet"), item="bar", sample="window", raw_description="All minute bars of the "
                 "configured source (synthetic default or a folder of OHLCV files), one table.",
                 training_set_description="Gap-free windows of validated bars; the recipe is "
                 "pipelines.exchange.windows.make_windows."),
    "ludb": Shown(raw="ludb_raw_records", validated="ludb_records_validated", training_set="ludb_heartbeats",
                  raw_kinds=("wfdb", "parquet"), item="record", sample="beat", raw_description="One row per LUDB "
                  "record (sources.ludb: a directory in LUDB layout, or downloaded from PhysioNet), with its "
                  "diagnoses.", training_set_description="Beats of every lead cut at the cardiologists' QRS marks, "
                  "with expert factors (RR, QRS, PR, QT, T and P amplitude, lead); pipelines.ecg.ludb.segment_ludb."),
}  # fmt: skip


class DataAssets(NamedTuple):
    raw: dg.AssetsDefinition
    validated: dg.AssetsDefinition
    training_set: dg.AssetsDefinition


def data_assets(spec: DatasetSpec) -> DataAssets:
    """The raw, validated and training-set assets of one dataset. The raw asset commits the generate (where the
    dataset has one) and ingest stages' outputs to DVC; the others their own stage's."""
    *fetching, validate, segment = spec.stages()  # their dvc.yaml names, in the order they run
    shown = SHOWN[spec.name]

    @dg.asset(name=shown.raw, group_name=spec.name, kinds=set(shown.raw_kinds), description=shown.raw_description,
              output_required=spec.name in sources.SYNTHETIC)  # fmt: skip
    def raw(context: dg.AssetExecutionContext, workspace: WorkspaceResource):
        ws = workspace.workspace()
        if spec.name not in sources.SYNTHETIC and not sources.source(ws, spec.name).available:
            # a dataset without embedded data is optional: no source, nothing materialized, its chain is skipped
            context.log.warning(f"{ws.params_path}: sources.{spec.name} is empty or not a directory here: "
                                f"{spec.name} skipped (its downstream assets are skipped too)")  # fmt: skip
            return
        result = spec.ingest(ws)
        yield materialize_result(result, **workspace.commit_to_dvc(*fetching))

    item, sample = shown.item, shown.sample
    validated = _checked_asset(
        spec.name, raw, spec.validate, validate, shown.validated, {"great_expectations", "parquet"},
        f"{item.capitalize()}s that pass the Great Expectations suite; the others are quarantined with their reasons.",
        dg.AssetCheckSpec(f"gx_{item}_suite", asset=shown.validated, blocking=True,
                          description=f"Great Expectations {item} suite; fails when too few {item}s pass"),
    )  # fmt: skip
    training_set = _checked_asset(
        spec.name, validated, spec.segment, segment, shown.training_set, {"numpy"}, shown.training_set_description,
        dg.AssetCheckSpec(f"gx_{sample}_suite", asset=shown.training_set, blocking=True,
                          description=f"finite {sample}s, labels present, enough training {sample}s"),
    )  # fmt: skip
    return DataAssets(raw, validated, training_set)


def _checked_asset(group: str, upstream, stage: Stage, dvc_stage: str, name: str, kinds: set[str], description: str,
                   check: dg.AssetCheckSpec) -> dg.AssetsDefinition:  # fmt: skip
    """An asset that runs `stage` after `upstream`, with the stage's suite as its blocking asset check."""

    @dg.asset(name=name, group_name=group, automation_condition=UPDATE_WHEN_UPSTREAM_CHANGES, deps=[upstream],
              kinds=kinds, check_specs=[check], description=description)  # fmt: skip
    def checked(workspace: WorkspaceResource) -> dg.MaterializeResult:
        result = stage(workspace.workspace())
        return materialize_result(result, check.name, **workspace.commit_to_dvc(dvc_stage))

    return checked


DATA = {name: data_assets(spec) for name, spec in DATASET_SPECS.items()}
DATA_ASSETS = [asset for chain in DATA.values() for asset in chain]
