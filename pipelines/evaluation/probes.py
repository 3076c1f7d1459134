"""Downstream value of the latents: linear probes fitted on the training split's posterior means and scored on
the test split (splits are by patient for ECG, by time for BTC, so a probe never sees the test patients or period).

- ECG: logistic regression from the latents to healthy vs myocardial infarction, scored by ROC AUC.
- BTC: ridge regression from the latents to the log realised volatility of the next, non-overlapping window,
  scored by R² and set beside the same probe on the current window's own log volatility (persistence baseline).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def healthy_vs_mi_auroc(mu_train: np.ndarray, healthy_train, mu_test: np.ndarray, healthy_test) -> float:
    """ROC AUC of a logistic-regression probe for the healthy class; NaN when either split holds one class."""
    y_train, y_test = np.asarray(healthy_train, bool), np.asarray(healthy_test, bool)
    if len(set(y_train)) < 2 or len(set(y_test)) < 2:
        return float("nan")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(mu_train, y_train)
    return float(roc_auc_score(y_test, probe.predict_proba(mu_test)[:, 1]))


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
