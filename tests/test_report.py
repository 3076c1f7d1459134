"""The report's judgement: the champion by median over seeds, and a verdict that claims an effect only beyond the
spread over seeds and says plainly when nothing disentangles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.report.html import pick_champions, sweep_effect
from pipelines.stages.evaluation import aggregate


def _row(config, mig, iqr, kind="tcvae", beta=6.0, seeds=5, dataset="ecg", headline="mig", udr=np.nan):
    return {"dataset": dataset, "config": config, "kind": kind, "beta": beta, "mig": mig, "mig_iqr": list(iqr),
            "seeds": seeds, "headline": headline, "udr": udr}  # fmt: skip


def _baseline(name, mig):
    return {"dataset": "ecg", "config": name, "kind": "baseline", "mig": mig, "seeds": 1}


def test_an_effect_beyond_the_spread_is_claimed_and_an_overlapping_one_is_not():
    group = pd.DataFrame([_row("b1_c0", 0.10, (0.08, 0.12), "beta", 1.0), _row("tc6", 0.40, (0.35, 0.45))])
    base = pd.DataFrame([_baseline("PCA-10", 0.05), _baseline("FastICA-10", 0.38)])
    text = sweep_effect(group, base)
    assert text.startswith("Best median MIG: tc6 0.400 (IQR 0.350–0.450) over 5 seeds.")
    assert "It beats b1_c0 0.100 (IQR 0.080–0.120), PCA-10 0.050 beyond the spread" in text
    assert "does not beat FastICA-10 0.380 beyond that spread" in text and "no effect claimed" in text
    below = sweep_effect(group, pd.DataFrame([_baseline("PCA-10", 0.47)]))
    assert below.endswith("It stays below PCA-10 0.470: no config of the sweep beats it.")


def test_nothing_disentangling_is_said_plainly():
    group = pd.DataFrame([_row("b1_c0", 0.02, (0.01, 0.03), "beta", 1.0), _row("tc6", 0.05, (0.01, 0.08))])
    assert sweep_effect(group) == "No run disentangles: the best median MIG is 0.050 (tc6), below 0.1."


def test_one_seed_per_config_claims_nothing():
    group = pd.DataFrame([_row("b1_c0", 0.10, (0.1, 0.1), "beta", 1.0, seeds=1), _row("tc6", 0.4, (0.4, 0.4), seeds=1)])
    assert "no spread over seeds to judge an effect by" in sweep_effect(group)


def test_the_champion_is_the_highest_median_and_udr_on_real_data():
    rows = [_row("a", 0.3, (0.1, 0.5)), _row("b", 0.35, (0.34, 0.36)),
            _row("a", 0.2, (0.2, 0.2), dataset="ptb", headline="udr", udr=0.7),
            _row("b", 0.4, (0.4, 0.4), dataset="ptb", headline="udr", udr=0.5)]  # fmt: skip
    champions = pick_champions(rows)
    assert champions["ecg"]["config"] == "b" and champions["ptb"]["config"] == "a"


def test_aggregate_takes_medians_quartiles_and_the_median_seed():
    per_seed = [{"seed": s, "mig": m, "kl_per_latent": [s], "factor_names": ["f"], "factor_kind": "generative"}
                for s, m in zip(range(5), [0.5, 0.1, 0.3, 0.2, 0.4], strict=True)]  # fmt: skip
    out = aggregate(per_seed, "mig")
    assert out["mig"] == pytest.approx(0.3) and out["iqr"]["mig"] == pytest.approx([0.2, 0.4])
    assert out["representative_seed"] == 2 and out["kl_per_latent"] == [2]  # the seed at the median
    assert [s["seed"] for s in out["seeds"]] == list(range(5))
    assert aggregate(per_seed[:2], "mig")["representative_seed"] == 1  # even count: the lower middle one
