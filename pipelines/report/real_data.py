"""The report's section on annotated real data (LUDB, factor_kind "expert"): what the scores mean there and what
the champion learned, said in words a cardiologist can check.

- MIG per factor, and MIG over the factors other than heart rate (the beat's RR channel hands heart rate over as
  an input, so its gap says nothing about disentangling), beside PCA-10, FastICA-10 and the oracle (the factors
  themselves as codes: the highest MIG the factors' own correlations allow);
- the Spearman correlations between the expert factors (they bound MIG: a factor correlated with another leaves
  a second latent with information about it);
- diagnosis probes (ischemia or scar, LVH, sinus rhythm) with their bootstrap standard errors over test subjects;
- the champion's claims: which latent carries heart rate, which each wave's timing and amplitude, which the lead
  (the beat's form), which tells each diagnosis apart.

The BetaVAE and FactorVAE scores need samples generated with one factor held fixed: real data cannot give them,
so they are not applicable here (and not printed)."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from pipelines.evaluation.selection import DISENTANGLED_MIG

FACTOR_LABELS = {
    "rr_s": "heart rate (RR interval)", "hr_bpm": "heart rate", "qrs_s": "QRS duration", "pr_s": "PR interval",
    "qt_s": "QT interval", "t_amp": "T-wave amplitude", "p_amp": "P-wave amplitude", "lead": "the lead (beat form)",
}  # fmt: skip
CARRIES_GAP = DISENTANGLED_MIG  # a factor's MIG gap from which its top latent is said to carry it
DIAGNOSIS_LABELS = {
    "ischemia": "ischemia or scar",
    "lvh": "left ventricular hypertrophy",
    "sinus_rhythm": "sinus rhythm",
}


def real_data_section(dataset: str, group: pd.DataFrame, baselines: pd.DataFrame, champion: str | None,
                      factor_corr: pd.DataFrame | None) -> str:  # fmt: skip
    """The section under an annotated dataset's score table: per-factor MIG, factor correlations, probes, claims."""
    rows = pd.concat([group, baselines], ignore_index=True)
    scored = [c.removeprefix("mig__") for c in rows.columns if c.startswith("mig__") and rows[c].notna().any()]
    order = (group["representative"].iloc[0] or {}).get("factor_names", []) if "representative" in group else []
    factors = [f for f in order if f in scored] + [f for f in scored if f not in order]  # the data set's order
    parts = [
        f"<h3>{html.escape(dataset)}: against the cardiologists' marks</h3><p class='note'>Heart rate reaches the "
        "model as an input channel (RR to the next beat), so its MIG gap is handed over; <b>MIG w/o RR</b> is the "
        "mean over the other factors. The oracle row scores the factors themselves as codes: the ceiling their own "
        "correlations leave. BetaVAE and FactorVAE scores need samples generated with one factor held fixed, which "
        "real data cannot give: not applicable here.</p>",
        _table(rows, ["config", "mig", "mig_non_rr", *[f"mig__{f}" for f in factors]],
               ["config", "MIG", "MIG w/o RR", *[FACTOR_LABELS.get(f, f) for f in factors]]),
    ]  # fmt: skip
    if factor_corr is not None:
        parts.append("<p class='note'>Spearman correlation of the expert factors (test split):</p>")
        parts.append(factor_corr.round(2).to_html(classes="corr", border=0))
    parts.append(_probes(rows[rows.filter(like="_auroc").notna().any(axis=1)]))
    if champion is not None:
        parts.append(_claims(group[group.config == champion].iloc[0]))
    return f"<section id='real-data-{html.escape(dataset)}'>" + "\n".join(parts) + "</section>"


def _table(rows: pd.DataFrame, columns: list[str], labels: list[str]) -> str:
    present = [(c, label) for c, label in zip(columns, labels, strict=True) if c in rows]
    header = "".join(f"<th>{html.escape(label)}</th>" for _, label in present)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(row.get(c))}</td>" for c, _ in present) + "</tr>"
                   for _, row in rows.iterrows())  # fmt: skip
    return f"<div class='scroll'><table><tr>{header}</tr>{body}</table></div>"


def _probes(rows: pd.DataFrame) -> str:
    """AUROC ± standard error of each diagnosis probe per config and baseline."""
    names = [d for d in DIAGNOSIS_LABELS if f"probe_{d}_auroc" in rows]
    if not names:
        return ""
    header = "<th>config</th>" + "".join(f"<th>{html.escape(DIAGNOSIS_LABELS[d])} AUROC ± SE</th>" for d in names)
    body = "".join(
        f"<tr><td>{html.escape(str(row['config']))}</td>"
        + "".join(
            f"<td>{_fmt(row.get(f'probe_{d}_auroc'))} ± {_fmt(row.get(f'probe_{d}_auroc_se'))}</td>" for d in names
        )
        + "</tr>"
        for _, row in rows.iterrows()
    )
    return (
        "<p class='note'>Diagnosis probes: logistic regression from all latents (or components), fitted on the train "
        "subjects, ROC AUC on the test subjects; ± one standard error from resampling the test subjects.</p>"
        f"<div class='scroll'><table><tr>{header}</tr>{body}</table></div>"
    )


def _claims(row: pd.Series) -> str:
    """What the champion's representative seed learned, in sentences: the latent with the most information about
    each factor (MIG's top code) with its |Spearman rho| and gap, and the latent that tells each diagnosis best."""
    rep = row.get("representative") or {}
    top, corr = rep.get("mig_top_code"), rep.get("factor_correlation")
    items = []
    for j, factor in enumerate(rep.get("factor_names", [])):
        if top is None or j >= len(top):
            break
        k = top[j]
        rho = corr[k][j] if corr is not None and corr[k][j] is not None else float("nan")
        strength = f"|ρ| {abs(rho):.2f}, " if factor != "lead" and np.isfinite(rho) else ""
        gap = row.get(f"mig__{factor}", np.nan)
        carrier = f"z{k}" if gap >= CARRIES_GAP else f"no latent alone (the most information: z{k}"
        items.append(f"<li><b>{html.escape(FACTOR_LABELS.get(factor, factor))}</b>: {carrier} ({strength}MIG gap "
                     f"{_fmt(gap)}){')' if gap < CARRIES_GAP else ''}</li>")  # fmt: skip
    for d, label in DIAGNOSIS_LABELS.items():
        if f"probe_{d}_top_latent" in rep:
            alone = rep[f"probe_{d}_top_latent_auroc"]  # < 0.5: the latent tells it with the other sign
            items.append(f"<li><b>{html.escape(label)}</b>: all latents AUROC {_fmt(row.get(f'probe_{d}_auroc'))} ± "
                         f"{_fmt(row.get(f'probe_{d}_auroc_se'))}; alone, z{rep[f'probe_{d}_top_latent']} tells it "
                         f"best (AUROC {_fmt(max(alone, 1 - alone))}, {'high' if alone >= 0.5 else 'low'} values "
                         "for it)</li>")  # fmt: skip
    return (
        f"<p><b>What the champion ({html.escape(str(row['config']))}, seed {row.get('seed')}) learned</b>: the latent "
        f"with the most information about each factor, and the latent that tells each diagnosis best.</p><ul>"
        + "".join(items)
        + "</ul>"
    )


def _fmt(value) -> str:
    if isinstance(value, float | int | np.floating) and not isinstance(value, bool):
        return f"{value:.3f}" if np.isfinite(value) else "–"
    return html.escape(str(value)) if value is not None else "–"
