"""How the sweep's results are judged: a config's seeds summarised by their median and interquartile range with a
representative seed (`aggregate`), the champion of each dataset (`pick_champions`, whose model version gets the
MLflow alias `champion`), and the report's verdict on whether the best config's effect holds beyond the spread
over seeds (`sweep_effect`).

Each config is ranked by its headline score: MIG (Chen et al. 2018, "Isolating Sources of Disentanglement in
VAEs", arXiv 1802.04942) against known (generative) factors, or, on real data whose factors are only proxies,
UDR (Duan et al. 2020, "Unsupervised Model Selection for Variational Disentangled Representation Learning",
arXiv 1905.12614), which compares the seeds with each other. An effect is claimed only when the best config's Q1
lies above a rival's Q3; a rival is the plain VAE (kind beta, beta = 1) or a linear baseline (PCA, FastICA).
Rows are dicts (or pandas rows) holding `config`, `kind`, `seeds`, the scores and, per score `k` over seeds,
`k_iqr` = [Q1, Q3]."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.evaluation.scores import ORACLE, SCORE_LABELS, is_number

CHAMPION_CRITERION = (
    "highest median MIG over seeds against known factors (generative, or marked by cardiologists); on real data "
    "whose factors are only proxies, highest median UDR (ties: first config by name). Its median seed is the one "
    "shown and registered"
)
DISENTANGLED_MIG = 0.1  # below this median MIG no run is said to disentangle


def headline_of(row) -> str:
    """The score a row is ranked by: its `headline` ("mig" or "udr"), MIG when it has none (a baseline)."""
    return row.get("headline") if isinstance(row.get("headline"), str) else "mig"


def aggregate(per_seed: list[dict], headline: str) -> dict:
    """Median (top level) and interquartile range (`iqr`: [Q1, Q3]) over seeds of every score all seeds have
    (NaN seeds left out; NaN when all are), the seeds' own scores, and the representative seed: the one at the
    median of `headline` (the lower of the two middle ones; the first seed when not every seed has it). Per-latent
    KL and factor names are the representative's."""
    keys = [k for k in per_seed[0] if k != "seed" and all(is_number(s.get(k)) for s in per_seed)]
    values = {k: np.array([s[k] for s in per_seed], dtype=np.float64) for k in keys}
    if headline in values and np.isfinite(values[headline]).all():
        order = np.argsort(values[headline], kind="stable")
        rep = per_seed[order[(len(order) - 1) // 2]]
    else:
        rep = per_seed[0]
    known = {k: v[np.isfinite(v)] for k, v in values.items()}
    return {
        **{k: float(np.median(v)) if len(v) else float("nan") for k, v in known.items()},
        "iqr": {k: [float(q) for q in np.percentile(v, [25, 75])] for k, v in known.items() if len(v)},
        "headline": headline,
        "representative_seed": rep["seed"],
        "kl_per_latent": rep["kl_per_latent"],
        "factor_names": rep["factor_names"],
        "factor_kind": rep["factor_kind"],
        "seeds": per_seed,
    }


def pick_champions(rows: list[dict]) -> dict[str, dict]:
    """Per dataset, the row with the highest median of its headline score (MIG, or UDR on real data: the sweep's
    champion criterion); ties go to the first config in name order. A dataset without a finite one has none."""
    champions = {}
    for row in sorted(rows, key=lambda r: (r["dataset"], r["config"])):
        key, best = headline_of(row), champions.get(row["dataset"])
        if np.isfinite(row.get(key, np.nan)) and (best is None or row[key] > best[key]):
            champions[row["dataset"]] = row
    return champions


def _spread(row, key: str) -> tuple[float, float]:
    """(Q1, Q3) of `key` over the row's seeds; a baseline (deterministic) or a single seed spans one value."""
    iqr = row.get(f"{key}_iqr")
    return (float(iqr[0]), float(iqr[1])) if isinstance(iqr, list | tuple | np.ndarray) else (row[key], row[key])


def _described(row, key: str) -> str:
    low, high = _spread(row, key)
    spread = f" (IQR {low:.3f}–{high:.3f})" if high > low else ""
    return f"{row['config']} {row[key]:.3f}{spread}"


def sweep_effect(group: pd.DataFrame, baselines: pd.DataFrame | None = None) -> str:
    """The verdict, in words: does the best config beat the plain VAE (kind beta, beta = 1) and the baselines
    beyond the spread over seeds (its Q1 above their Q3)? Says plainly when nothing disentangles or when one seed
    per config leaves no spread to judge by. `group` holds one dataset's configs, `baselines` its baseline rows."""
    key = headline_of(group.iloc[0])
    name = SCORE_LABELS.get(key, key)
    scored = group[np.isfinite(group.get(key, pd.Series(np.nan, index=group.index)))]
    if scored.empty:
        return f"No config has a {name}: nothing to compare."
    best = scored.loc[scored[key].idxmax()]
    if key == "mig" and best[key] < DISENTANGLED_MIG:
        return (f"No run disentangles: the best median MIG is {best[key]:.3f} ({best['config']}), below "
                f"{DISENTANGLED_MIG}.")  # fmt: skip
    if int(scored["seeds"].max()) < 2:
        return (
            f"{best['config']} has the highest {name} ({best[key]:.3f}), but with one seed per config there is "
            "no spread over seeds to judge an effect by; train more seeds (train.seeds) or run the study."
        )
    plain = scored[(scored["kind"] == "beta") & (scored["beta"] == 1.0)]
    rivals = [r for _, r in plain.iterrows() if r["config"] != best["config"]]
    ceiling = ""
    if baselines is not None and key in baselines:
        rivals += [r for _, r in baselines.iterrows() if np.isfinite(r[key]) and r["config"] != ORACLE]
        ceiling = "".join(f" The factors themselves as codes (the oracle) reach {r[key]:.3f}: the ceiling."
                          for _, r in baselines.iterrows() if r["config"] == ORACLE)  # fmt: skip
    if not rivals:
        return f"{_described(best, key)} has the highest median {name}; there is no plain VAE or baseline to compare."
    low, high = _spread(best, key)
    beaten, below, overlapping = [], [], []
    for r in rivals:
        r_low, r_high = _spread(r, key)
        (beaten if low > r_high else below if high < r_low else overlapping).append(r)
    listed = lambda rows: ", ".join(_described(r, key) for r in rows)  # noqa: E731
    text = f"Best median {name}: {_described(best, key)} over {int(best['seeds'])} seeds."
    if beaten:
        text += f" It beats {listed(beaten)} beyond the spread over seeds."
    if overlapping:
        text += f" It does not beat {listed(overlapping)} beyond that spread (the ranges overlap): no effect claimed."
    if below:
        text += f" It stays below {listed(below)}: no config of the sweep beats {'it' if len(below) == 1 else 'them'}."
    return text + ceiling
