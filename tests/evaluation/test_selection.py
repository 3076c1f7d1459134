"""How the sweep is judged: a config's seeds summarised by median, IQR and a representative seed; the champion by
median over seeds; and a verdict that claims an effect only beyond the spread over seeds and says plainly when
nothing disentangles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.evaluation.selection import aggregate, pick_champions, sweep_effect


def _row(config, mig, iqr, kind="tcvae", beta=6.0, seeds=5, dataset="ecg", headline="mig", udr=np.nan):
    return {"dataset": dataset, "config": config, "kind": kind, "beta": beta, "mig": mig, "mig_iqr": list(iqr),
            "seeds": seeds, "headline": headline, "udr": udr}  # fmt: skip


def _baseline(name, mig):
    return {"dataset": "ecg", "config": name, "kind": "baseline", "mig": mig, "seeds": 1}


def _seeds(migs):
    return [{"seed": s, "mig": m, "kl_per_latent": [s], "factor_names": ["f"], "factor_kind": "generative"}
            for s, m in enumerate(migs)]  # fmt: skip


def test_an_effect_beyond_the_spread_is_claimed_and_an_overlapping_one_is_not():
    group = pd.DataFrame([_row("b1_c0", 0.10, (0.08, 0.12), "beta", 1.0), _row("tc6", 0.40, (0.35, 0.45))])
    base = pd.DataFrame([_baseline("PCA-10", 0.05), _baseline("FastICA-10", 0.38)])
    text = sweep_effect(group, base)
    assert text.startswith("Best median MIG: tc6 0.400 (IQR 0.350–0.450) over 5 seeds.")
    assert "It beats b1_c0 0.100 (IQR 0.080–0.120), PCA-10 0.050 beyond the spread" in text
    assert "does not beat FastICA-10 0.380 beyond that spread" in text and "no effect claimed" in text
    below = sweep_effect(group, pd.DataFrame([_baseline("PCA-10", 0.47)]))
    assert below.endswith("It stays below PCA-10 0.470: no config of the sweep beats it.")


def test_rivals_above_the_whole_spread_are_named_together():
    group = pd.DataFrame([_row("tc6", 0.40, (0.35, 0.45))])
    base = pd.DataFrame([_baseline("PCA-10", 0.47), _baseline("FastICA-10", 0.5)])
    assert sweep_effect(group, base).endswith(
        "It stays below PCA-10 0.470, FastICA-10 0.500: no config of the sweep beats them."
    )


def test_nothing_disentangling_is_said_plainly():
    group = pd.DataFrame([_row("b1_c0", 0.02, (0.01, 0.03), "beta", 1.0), _row("tc6", 0.05, (0.01, 0.08))])
    assert sweep_effect(group) == "No run disentangles: the best median MIG is 0.050 (tc6), below 0.1."


def test_one_seed_per_config_claims_nothing():
    group = pd.DataFrame([_row("b1_c0", 0.10, (0.1, 0.1), "beta", 1.0, seeds=1), _row("tc6", 0.4, (0.4, 0.4), seeds=1)])
    assert "no spread over seeds to judge an effect by" in sweep_effect(group)


def test_real_data_is_judged_by_udr_and_a_lone_config_has_nothing_to_beat():
    group = pd.DataFrame([_row("tc6", 0.01, (0.0, 0.02), headline="udr", udr=0.7)])
    assert sweep_effect(group) == "tc6 0.700 has the highest median UDR; there is no plain VAE or baseline to compare."


def test_a_sweep_without_the_headline_score_has_nothing_to_compare():
    group = pd.DataFrame([_row("tc6", np.nan, (0.0, 0.0))])
    assert sweep_effect(group) == "No config has a MIG: nothing to compare."


def test_the_champion_is_the_highest_median_and_udr_on_real_data():
    rows = [_row("a", 0.3, (0.1, 0.5)), _row("b", 0.35, (0.34, 0.36)),
            _row("a", 0.2, (0.2, 0.2), dataset="ptb", headline="udr", udr=0.7),
            _row("b", 0.4, (0.4, 0.4), dataset="ptb", headline="udr", udr=0.5)]  # fmt: skip
    champions = pick_champions(rows)
    assert champions["ecg"]["config"] == "b" and champions["ptb"]["config"] == "a"


def test_a_tie_goes_to_the_first_config_by_name_and_no_score_means_no_champion():
    rows = [_row("b", 0.3, (0.3, 0.3)), _row("a", 0.3, (0.3, 0.3)), _row("a", np.nan, (0, 0), dataset="ptb")]
    champions = pick_champions(rows)
    assert champions["ecg"]["config"] == "a" and "ptb" not in champions


def test_aggregate_takes_medians_quartiles_and_the_median_seed():
    per_seed = _seeds([0.5, 0.1, 0.3, 0.2, 0.4])
    out = aggregate(per_seed, "mig")
    assert out["mig"] == pytest.approx(0.3) and out["iqr"]["mig"] == pytest.approx([0.2, 0.4])
    assert out["representative_seed"] == 2 and out["kl_per_latent"] == [2]  # the seed at the median
    assert [s["seed"] for s in out["seeds"]] == list(range(5))
    assert aggregate(per_seed[:2], "mig")["representative_seed"] == 1  # even count: the lower middle one


def test_aggregate_leaves_nan_seeds_out_and_falls_back_to_the_first_seed():
    out = aggregate(_seeds([0.2, np.nan, 0.4]), "mig")
    assert out["mig"] == pytest.approx(0.3) and out["iqr"]["mig"] == pytest.approx([0.25, 0.35])
    assert out["representative_seed"] == 0  # not every seed has a MIG
    assert out["headline"] == "mig" and "udr" not in out  # a score not every seed has is left out


def test_the_oracle_is_named_as_the_ceiling_not_as_a_rival():
    group = pd.DataFrame([
        {"config": "tc12", "kind": "tcvae", "beta": 12.0, "mig": 0.15, "mig_iqr": [0.14, 0.16], "seeds": 5,
         "headline": "mig"},
    ])  # fmt: skip
    baselines = pd.DataFrame([{"config": "PCA-10", "kind": "baseline", "mig": 0.10, "seeds": 1},
                              {"config": "factors (oracle)", "kind": "baseline", "mig": 0.86, "seeds": 1}])  # fmt: skip
    text = sweep_effect(group, baselines)
    assert "It beats PCA-10 0.100 beyond the spread" in text and "stays below" not in text
    assert text.endswith("The factors themselves as codes (the oracle) reach 0.860: the ceiling.")
