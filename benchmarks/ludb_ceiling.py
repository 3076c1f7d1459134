"""The information ceiling on LUDB (issue 26): how well each cardiologist-marked factor can be read from the beats
the pipeline cut (`python -m pipelines ludb-beats`: params.yaml's `beats` recipe at the marked QRS peaks), by
supervised regressors fitted on the training set's subject split, beside the best single component of PCA-10 on
the same split (what an unsupervised 10-d code can reach without supervision). A latent cannot show what its input
does not carry: this bounds every VAE figure.

Prints, as Markdown: beats per split, and per factor the test |Spearman rho| and R^2 of a ridge regression and of
gradient-boosted trees on the whole beat row, and the best |rho| of one PCA-10 component; then the Spearman
correlation matrix of the expert factors (it bounds MIG).

    python -m benchmarks.ludb_ceiling [data/ludb/training_set.npz] [--models data/models/ludb]

With --models, the same readouts from each trained model's latent means (the pipeline's checkpoints), beside its
best single latent: whether a factor a latent misses was lost by the encoder or spread over several latents.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.dataset import TrainingSet
from pipelines.ecg.ludb import FACTORS


def readouts(x: np.ndarray, y: pd.DataFrame, train: np.ndarray) -> dict[str, dict[str, float]]:
    """Per factor: |Spearman rho| and R^2 on the test rows (not `train`) of a ridge regression and of boosted trees
    fitted on the train rows of `x`, each factor on the rows where it is known."""
    from scipy.stats import spearmanr
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = {}
    for factor in FACTORS:
        known = np.isfinite(y[factor].to_numpy())
        fit, test = known & train, known & ~train
        truth = y[factor].to_numpy()[test]
        row = {"train": int(fit.sum()), "test": int(test.sum())}
        for name, model in (("ridge", make_pipeline(StandardScaler(), RidgeCV(np.logspace(-2, 4, 13)))),
                            ("trees", HistGradientBoostingRegressor(random_state=0))):  # fmt: skip
            predicted = model.fit(x[fit], y[factor].to_numpy()[fit]).predict(x[test])
            row[f"{name} |rho|"] = abs(spearmanr(predicted, truth).statistic)
            row[f"{name} R2"] = r2_score(truth, predicted)
        out[factor] = row
    return out


def best_single(codes: np.ndarray, y: pd.DataFrame, test: np.ndarray) -> dict[str, float]:
    """Per factor: the largest |Spearman rho| of one column of `codes` with it on the `test` rows (a latent's score,
    as benchmarks.sweep_effect scores it)."""
    from benchmarks.sweep_effect import rho_per_factor

    rho = rho_per_factor(codes[test], y.loc[test, list(FACTORS)].to_numpy(), list(FACTORS))
    return {factor: rho[f"rho_{factor}"] for factor in FACTORS}


def scores(x: np.ndarray, y: pd.DataFrame, train: np.ndarray) -> pd.DataFrame:
    """Per factor: the readouts of the whole row (`readouts`) and the best |rho| of a single PCA-10 component
    fitted on the train rows."""
    from sklearn.decomposition import PCA

    pca = best_single(PCA(10, random_state=0).fit(x[train]).transform(x), y, ~train)
    table = readouts(x, y, train)
    return pd.DataFrame([{"factor": f, **row, "PCA-10 best |rho|": pca[f]} for f, row in table.items()])


def code_scores(checkpoints: list[Path], x: np.ndarray, y: pd.DataFrame, train: np.ndarray) -> pd.DataFrame:
    """What trained models' codes hold, per model and factor, test |rho| as "best latent / best ICA component /
    ridge / trees": FastICA-10 fitted on the train rows' latent means is an unsupervised rotation of the code to
    independent axes; ridge and trees read the factor from all latent means at once. Best latent well below ridge:
    the code holds the factor but spreads it over latents; ridge itself low: the code lost it."""
    from sklearn.decomposition import FastICA

    from pipelines.evaluation.summary import encode
    from pipelines.vae.checkpoints import load_checkpoint

    rows = []
    for path in checkpoints:
        codes = encode(load_checkpoint(path)[0], x)[0]
        rotated = FastICA(codes.shape[1], random_state=0, max_iter=1000).fit(codes[train]).transform(codes)
        single, ica, read = best_single(codes, y, ~train), best_single(rotated, y, ~train), readouts(codes, y, train)
        cells = {f: f"{single[f]:.2f} / {ica[f]:.2f} / {read[f]['ridge |rho|']:.2f} / {read[f]['trees |rho|']:.2f}"
                 for f in FACTORS}  # fmt: skip
        rows.append({"model": f"{path.parent.parent.name} {path.stem}", **cells})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path, nargs="?", default=Path("data/ludb/training_set.npz"))
    parser.add_argument("--models", type=Path, help="also score the codes of every checkpoint under this directory "
                        "(data/models/ludb: <config>/checkpoints/seed<N>.pt)")  # fmt: skip
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
    if args.models:
        kept = train | test
        checkpoints = sorted(args.models.glob("*/checkpoints/seed*.pt"))
        codes = code_scores(checkpoints, data.x[kept], y[kept].reset_index(drop=True), train[kept])
        print(
            "\nWhat the codes hold, test |Spearman rho|: best single latent / best FastICA component of the latents / "
            "ridge / trees on all latents:\n"
        )
        print(codes.to_markdown(index=False))


if __name__ == "__main__":
    main()
