"""The information ceiling on LUDB (issue 26): how well each cardiologist-marked factor can be read from the beats
the pipeline cut (`python -m pipelines ludb-beats`: params.yaml's `beats` recipe at the marked QRS peaks), by
supervised regressors fitted on the training set's subject split, beside the best single component of PCA-10 on
the same split (what an unsupervised 10-d code can reach without supervision). A latent cannot show what its input
does not carry: this bounds every VAE figure.

Prints, as Markdown: beats per split, and per factor the test |Spearman rho| and R^2 of a ridge regression and of
gradient-boosted trees on the whole beat row, and the best |rho| of one PCA-10 component; then the Spearman
correlation matrix of the expert factors (it bounds MIG).

    python -m benchmarks.ludb_ceiling [data/ludb/training_set.npz]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.dataset import TrainingSet
from pipelines.ecg.ludb import FACTORS


def scores(x: np.ndarray, y: pd.DataFrame, train: np.ndarray) -> pd.DataFrame:
    """Per factor: |Spearman rho| and R^2 on the test rows of ridge and boosted trees fitted on the train rows, and
    the best |rho| of a single PCA-10 component fitted on the train rows."""
    from scipy.stats import spearmanr
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    codes = PCA(10, random_state=0).fit(x[train]).transform(x)
    out = []
    for factor in FACTORS:
        known = np.isfinite(y[factor].to_numpy())
        fit, test = known & train, known & ~train
        truth = y[factor].to_numpy()[test]
        row = {"factor": factor, "train": int(fit.sum()), "test": int(test.sum())}
        for name, model in (("ridge", make_pipeline(StandardScaler(), RidgeCV(np.logspace(-2, 4, 13)))),
                            ("trees", HistGradientBoostingRegressor(random_state=0))):  # fmt: skip
            predicted = model.fit(x[fit], y[factor].to_numpy()[fit]).predict(x[test])
            row[f"{name} |rho|"] = abs(spearmanr(predicted, truth).statistic)
            row[f"{name} R2"] = r2_score(truth, predicted)
        row["PCA-10 best |rho|"] = max(abs(spearmanr(codes[test, k], truth).statistic) for k in range(10))
        out.append(row)
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path, nargs="?", default=Path("data/ludb/training_set.npz"))
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = TrainingSet.load(args.data)
    y = pd.DataFrame(data.factors, columns=data.factor_names)
    train, test = data.split == "train", data.split == "test"
    table = scores(data.x[train | test], y[train | test].reset_index(drop=True), train[train | test])
    subjects = data.labels.patient[test].nunique()
    print(f"LUDB ({args.data}): {len(data)} beats of {data.labels.patient.nunique()} subjects ({train.sum()} train, "
          f"{test.sum()} test of {subjects} test subjects); rows of {data.x.shape[1]} values ({data.axis_label}, "
          f"channels: {', '.join(data.channel_names)}); {time.perf_counter() - t0:.0f} s\n")  # fmt: skip
    print(table.to_markdown(index=False, floatfmt=".3f"))
    print("\nSpearman correlation of the expert factors (all beats):\n")
    print(y[list(FACTORS)].corr(method="spearman").to_markdown(floatfmt=".2f"))


if __name__ == "__main__":
    main()
