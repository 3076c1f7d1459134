"""The one table of scores: every named list draws its names from it, each name once."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.evaluation.scores import HEADLINES, SCORE_LABELS, SCORES, SUMMARY_SCORES, is_number


@pytest.mark.parametrize("names", [SCORES, HEADLINES, SUMMARY_SCORES], ids=["SCORES", "HEADLINES", "SUMMARY"])
def test_every_list_names_scores_of_the_table_once(names):
    assert set(names) <= set(SCORE_LABELS) and len(set(names)) == len(names)


def test_the_report_stage_reads_every_score_of_the_table():
    assert sorted(SCORES) == sorted(SCORE_LABELS)


def test_sweep_csv_keeps_the_intervention_scores_last():
    assert SCORES[-2:] == ("beta_vae_eval", "factor_vae_eval") and SCORES[:5] == tuple(SCORE_LABELS)[:5]


NUMBERS = [(1, True), (0.5, True), (np.nan, True), (np.float64(2.0), True), (True, False), ("0.5", False),
           (None, False), ([1.0], False)]  # fmt: skip


@pytest.mark.parametrize(("value", "expected"), NUMBERS)
def test_a_score_is_an_int_or_float_but_not_a_bool(value, expected):
    assert is_number(value) is expected
