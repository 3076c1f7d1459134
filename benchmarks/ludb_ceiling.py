"""The information ceiling on LUDB (issue 26): how well each cardiologist-marked factor can be read from the beats
this project cuts (params.yaml's `beats` recipe, at the marked QRS peaks), by supervised regressors fitted on a
subject split, beside the best single component of PCA-10 on the same split (what an unsupervised 10-d code can
reach without supervision). A latent cannot show what its input does not carry: this bounds every VAE figure.

Prints, as Markdown: beats per split, and per factor the test |Spearman rho| and R^2 of a ridge regression and of
gradient-boosted trees on the whole beat row, and the best |rho| of one PCA-10 component; then the Spearman
correlation matrix of the expert factors (it bounds MIG).

    python -m benchmarks.ludb_ceiling [--source ../shared/data/ludb] [--leads all|ii] [--test-subjects 50]
                                      [--records N]   # the first N records only (a quick look, the tests)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.ecg.beats import beat_rows, cut_beats
from pipelines.ecg.ludb import FACTORS, FS_HZ, expert_factors, read_waves
from pipelines.ecg.quality import beat_quality
from pipelines.ecg.records import read_signal
from pipelines.errors import IngestError
from pipelines.params import Params

LEADS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")


def ludb_beats(source: Path, leads: tuple[str, ...], cfg, records: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    """Quality-passing beat rows (N, L) of every record (or the first `records`) and lead, cut at the marked QRS
    peaks, and their expert factors with `record` and `lead` (N rows)."""
    rows, factors = [], []
    for record in (source / "RECORDS").read_text().split()[: records or None]:
        try:
            signal, names = read_signal(source, record, list(leads))
        except IngestError as e:
            print(f"<!-- {record} left out: {e} -->")
            continue
        for j, lead in enumerate(names):
            marked = expert_factors(read_waves(source, record, lead), signal[:, j], FS_HZ)
            cut = cut_beats(signal[:, j], FS_HZ, cfg, marked.r_sample.to_numpy())
            ok = beat_quality(cut.beats_mv, cut.rr_s, cfg) == ""
            kept = marked.set_index("r_sample").loc[cut.r_peaks[ok]].reset_index()
            rows.append(beat_rows(cut, cfg)[ok])
            factors.append(kept.assign(record=record, lead=lead))
    return np.concatenate(rows), pd.concat(factors, ignore_index=True)


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
    parser.add_argument("--source", type=Path, default=Path("../shared/data/ludb"))
    parser.add_argument("--leads", choices=["all", "ii"], default="all")
    parser.add_argument("--test-subjects", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--records", type=int, default=0, help="the first N records only (0: all)")
    args = parser.parse_args()
    cfg = Params.load("params.yaml").beats
    t0 = time.perf_counter()
    x, y = ludb_beats(args.source, LEADS if args.leads == "all" else ("ii",), cfg, args.records)
    subjects = np.array(sorted(y.record.unique()))
    test_subjects = np.random.default_rng(args.seed).choice(subjects, args.test_subjects, replace=False)
    train = ~y.record.isin(test_subjects).to_numpy()
    table = scores(x, y, train)
    print(f"LUDB, leads {args.leads}: {len(x)} beats of {len(subjects)} subjects ({train.sum()} train, "
          f"{(~train).sum()} test; {args.test_subjects} test subjects, seed {args.seed}); rows of {x.shape[1]} values "
          f"(params.yaml beats: {cfg.recipe}, {cfg.fs_hz:g} Hz, RR channel {cfg.rr_channel}); "
          f"{time.perf_counter() - t0:.0f} s\n")  # fmt: skip
    print(table.to_markdown(index=False, floatfmt=".3f"))
    print("\nSpearman correlation of the expert factors (all beats):\n")
    print(y[list(FACTORS)].corr(method="spearman").to_markdown(floatfmt=".2f"))


if __name__ == "__main__":
    main()
