"""Downstream value of the latents: linear probes fitted on the training split's posterior means and scored on
the test split (splits are by patient for ECG, by time for BTC, so a probe never sees the test patients or period).

- ECG: logistic regression from the latents to healthy vs myocardial infarction, scored by ROC AUC.
- LUDB: the same probe for each of its diagnoses (DIAGNOSES: ischemia or scar, left ventricular hypertrophy, sinus
  rhythm), scored by ROC AUC with its standard error from a bootstrap over the test subjects (beats of one
  subject are not independent; 50 test subjects make that error the honest one).
- BTC: ridge regression from the latents to the log realised volatility of the next, non-overlapping window,
  scored by R² and set beside the same probe on the current window's own log volatility (persistence baseline).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pipelines.evaluation.auc import roc_auc


def healthy_vs_mi_auroc(mu_train: np.ndarray, healthy_train, mu_test: np.ndarray, healthy_test) -> float:
    """ROC AUC of a logistic-regression probe for the healthy class; NaN when either split holds one class."""
    y_train, y_test = np.asarray(healthy_train, bool), np.asarray(healthy_test, bool)
    if len(set(y_train)) < 2 or len(set(y_test)) < 2:
        return float("nan")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(mu_train, y_train)
    return roc_auc(y_test, probe.predict_proba(mu_test)[:, 1])


DIAGNOSES = {"ischemia": "ischemia or scar", "lvh": "left ventricular hypertrophy", "sinus_rhythm": "sinus rhythm"}
BOOTSTRAPS = 200


def diagnosis_aurocs(mu_train: np.ndarray, train: pd.DataFrame, mu_test: np.ndarray, test: pd.DataFrame,
                     seed: int = 0) -> dict:  # fmt: skip
    """`probe_<diagnosis>_auroc` and its bootstrap standard error `probe_<diagnosis>_auroc_se` (BOOTSTRAPS
    resamples of the test subjects, `patient` in the labels) for each DIAGNOSES column of the labels `train` and
    `test` (one row per sample of the latents mu_train, mu_test), and the single latent that tells it best
    (`probe_<diagnosis>_top_latent`, its own AUROC `..._top_latent_auroc`); NaN where a split holds one class."""
    rng = np.random.default_rng(seed)
    subjects = test["patient"].to_numpy()
    rows_of = {p: np.flatnonzero(subjects == p) for p in np.unique(subjects)}
    draws = [np.concatenate([rows_of[p] for p in rng.choice(list(rows_of), len(rows_of))]) for _ in range(BOOTSTRAPS)]
    out = {}
    for name in (d for d in DIAGNOSES if d in train and d in test):
        y_train, y_test = train[name].to_numpy(bool), test[name].to_numpy(bool)
        auc = se = float("nan")
        if len(set(y_train)) == 2 and len(set(y_test)) == 2:
            probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(mu_train, y_train)
            score = probe.predict_proba(mu_test)[:, 1]
            auc = roc_auc(y_test, score)
            boot = [roc_auc(y_test[d], score[d]) for d in draws]
            boot = [a for a in boot if np.isfinite(a)]  # a resample of one class has no AUC
            se = float(np.std(boot, ddof=1)) if len(boot) > 1 else float("nan")
            single = roc_auc(y_test, mu_test)  # each latent alone, either direction
            top = int(np.argmax(np.abs(single - 0.5)))
            out[f"probe_{name}_top_latent"], out[f"probe_{name}_top_latent_auroc"] = top, float(single[top])
        out |= {f"probe_{name}_auroc": auc, f"probe_{name}_auroc_se": se}
    return out


def next_window_targets(labels: pd.DataFrame, window_min: int) -> np.ndarray:
    """Log realised volatility of the window starting `window_min` minutes after each window's start (N,), NaN
    where that window does not exist."""
    start = pd.to_datetime(labels["start"])
    vol = pd.Series(np.log(labels["realised_vol"].to_numpy(float)), index=start)
    vol = vol[~vol.index.duplicated()]
    return vol.reindex(start + pd.Timedelta(minutes=window_min)).to_numpy()


def next_volatility_r2(
    mu_train: np.ndarray, target_train: np.ndarray, mu_test: np.ndarray, target_test: np.ndarray
) -> float:
    """Test R² of a ridge probe from latents (N, D) to the next window's log volatility; NaN if too few targets."""
    train, test = np.isfinite(target_train), np.isfinite(target_test)
    if train.sum() < 10 or test.sum() < 5:
        return float("nan")
    probe = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(mu_train[train], target_train[train])
    return float(r2_score(target_test[test], probe.predict(mu_test[test])))
