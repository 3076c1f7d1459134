"""The report page as rendered: the champion highlighted, scores as "median [Q1, Q3]", the baselines under each
dataset's table, the verdict and the champion criterion in words, the table also as CSV. The judgement itself
(champion, verdict) is tested in tests/evaluation/test_selection.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.evaluation.scores import SCORE_LABELS
from pipelines.evaluation.selection import CHAMPION_CRITERION, pick_champions, sweep_effect
from pipelines.report.html import TABLE_COLUMNS, build_report


def _png(path: Path) -> Path:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + path.name.encode())
    return path


def _row(tmp_path, config, mig, iqr, kind="tcvae", beta=6.0):
    return {"dataset": "ecg", "config": config, "kind": kind, "beta": beta, "mig": mig, "mig_iqr": list(iqr),
            "sap": np.nan, "seeds": 5, "headline": "mig", "factor_kind": "generative", "epochs": 3,
            "kl_per_latent": [1.0, 0.1], "run_id": f"{config}-0123456789", "seed": 0,
            "traversal_png": _png(tmp_path / f"{config}_traversals.png"),
            "correlations_png": _png(tmp_path / f"{config}_correlations.png")}  # fmt: skip


@pytest.fixture
def report(tmp_path):
    rows = [_row(tmp_path, "b1_c0", 0.10, (0.08, 0.12), "beta", 1.0), _row(tmp_path, "tc6", 0.40, (0.35, 0.45)),
            _row(tmp_path, "tc10", 0.30, (0.30, 0.30))]  # fmt: skip
    baselines = [{"dataset": "ecg", "config": "PCA-10", "kind": "baseline", "mig": 0.05, "seeds": 1}]
    out = build_report(rows, tmp_path / "report", pick_champions(rows), baselines=baselines)
    return rows, baselines, out.read_text()


def test_the_champion_row_is_highlighted_and_the_baselines_follow(report):
    _, _, page = report
    assert "<tr class='best'><td>tc6</td>" in page and "<tr class='baseline'><td>PCA-10</td>" in page
    assert page.index("<td>tc6</td>") < page.index("<td>PCA-10</td>")


def test_a_score_with_a_spread_shows_its_quartiles(report):
    _, _, page = report
    assert "<td>0.4 [0.35, 0.45]</td>" in page and "<td>0.3</td>" in page  # tc10's seeds agree: no brackets


def test_the_page_states_the_criterion_and_the_verdict(report):
    rows, baselines, page = report
    assert CHAMPION_CRITERION in page and "3 epochs; " in page
    verdict = sweep_effect(pd.DataFrame(rows).sort_values("config"), pd.DataFrame(baselines))
    assert f"<p><b>{verdict}</b></p>" in page.replace("&#x27;", "'")


def test_columns_without_a_value_are_left_out_and_run_ids_shortened(report):
    _, _, page = report
    assert "<th>MIG</th>" in page and "<th>SAP</th>" not in page
    assert "<td>tc6-0123</td>" in page


def test_the_best_two_traversals_open_and_the_champion_shows_its_correlations(report):
    _, _, page = report
    assert "<h3>ecg · tc6 (champion)</h3>" in page and "<h3>ecg · tc10</h3>" in page
    assert "<details><summary>ecg · b1_c0</summary>" in page
    assert page.count('alt="tc6_correlations.png"') == 1 and 'alt="tc10_correlations.png"' not in page


def test_the_csv_holds_every_config_and_baseline_without_paths(report, tmp_path):
    table = pd.read_csv(tmp_path / "report" / "sweep.csv")
    assert list(table["config"]) == ["b1_c0", "tc10", "tc6", "PCA-10"]
    assert not any(c.endswith("_png") for c in table.columns) and "kl_per_latent" not in table.columns


def test_the_table_labels_every_score():
    assert all(TABLE_COLUMNS[name] == label for name, label in SCORE_LABELS.items())
