"""Issue 26's candidate "training on more unlabelled real beats", measured: the sweep's configs trained on LUDB's
training split together with every quality-passing beat of other WFDB databases (PTB's 12 standard leads,
MIT-BIH's two), then scored on LUDB's test split as benchmarks.sweep_effect scores the sweep.

    python -m benchmarks.unlabelled_variant data/ludb/training_set.npz [--wfdb ../shared/data/ptbdb
                                            ../shared/data/mitdb] [--seeds 3] [--configs tc12,b16_c0]

The extra beats are cut by the project's one beat cutter (pipelines.ecg.beats.record_beats) with the training
set's recipe (params.yaml's `beats`: rate, window, filter, baseline, RR channel), R peaks found on lead II (MLII on
MIT-BIH) for every lead of a record. LUDB's amplitudes are not millivolts (every lead spans 1.0 over its 10 s), so
each record's lead is scaled to LUDB's units: its beats' median peak-to-peak is set to that of LUDB's training
beats (the RR channel, in seconds, is left as it is). The models see the extra beats only in training: every score
is on LUDB's test records. The table goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.sweep_effect import baseline_scores, print_table, score_grid, variant_arguments
from pipelines.dataset import TrainingSet
from pipelines.ecg.beats import beat_rows, record_beats
from pipelines.ecg.records import ingest_records
from pipelines.errors import IngestError
from pipelines.params import Params
from pipelines.vae.devices import flush_denormals_in_cpu_pool
from pipelines.vae.trainer import train_grid

log = logging.getLogger("benchmarks.unlabelled_variant")

STANDARD_LEADS = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")
RPEAK_LEADS = ("ii", "mlii")  # the first a record has: R peaks for all its leads
LUDB_BOUND = 1.0  # a LUDB lead spans 1.0 over its 10 s, so no levelled LUDB beat reaches beyond; scaled beats that
# do (a lead whose typical beat is small beside its ectopic or noisy ones) are left out


def median_ptp(rows: np.ndarray, length: int) -> float:
    beats = rows[:, :length]
    return float(np.median(beats.max(axis=1) - beats.min(axis=1)))


def unlabelled_beats(source: str | Path, data: TrainingSet, params: Params) -> np.ndarray:
    """Rows (N, C * L) of every quality-passing beat of the standard leads of the records in `source`, cut as
    `data`'s beats were (params.yaml's `beats`) and scaled lead by lead to the median peak-to-peak of `data`'s
    training beats; a scaled beat reaching beyond LUDB_BOUND is left out. Records without a lead II (or MLII), or
    that cannot be cut, are left out with their reason."""
    length = len(data.axis)  # the beat channel, first of the row's channels
    target = median_ptp(data.part("train").x, length)
    records, rejects = ingest_records(source)
    for reject in rejects:
        if not reject.routine:  # (a RECORDS line whose files are not there is routine)
            log.warning("%s left out: %s", reject.item, reject.reason)
    parts = []
    for rec in records.itertuples(index=False):
        leads = rec.leads.split(",")
        ref = next((lead for lead in RPEAK_LEADS if lead in leads), None)
        if ref is None:
            log.warning("%s left out: no lead II or MLII to find R peaks on", rec.record)
            continue
        cfg = replace(params.beats, leads=tuple(lead for lead in leads if lead in (*STANDARD_LEADS, "mlii")),
                      rpeak_lead=ref)  # fmt: skip
        try:
            cuts = record_beats(Path(source), rec.record, rec.fs_hz, cfg)
        except IngestError as e:
            log.warning("%s left out: %s", rec.record, e)
            continue
        for lead in cuts:
            ok = lead.reasons == ""
            if ok.sum() < 2:
                continue
            rows = beat_rows(lead.cut, cfg)[ok].astype(np.float32)
            rows[:, :length] *= target / median_ptp(rows, length)  # to LUDB's units, beat channel only
            parts.append(rows[np.abs(rows[:, :length]).max(axis=1) <= LUDB_BOUND])
    return np.concatenate(parts) if parts else np.empty((0, data.x.shape[1]), np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", help="LUDB's training set (data/ludb/training_set.npz)")
    parser.add_argument("--wfdb", nargs="+", default=["../shared/data/ptbdb", "../shared/data/mitdb"])
    variant_arguments(parser)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    flush_denormals_in_cpu_pool()
    params = Params.load(args.params)
    grid = [params.loss_config(name) for name in args.configs.split(",")]  # an unknown name fails before the work
    data = TrainingSet.load(args.data)
    extra = [unlabelled_beats(source, data, params) for source in args.wfdb]
    for source, rows in zip(args.wfdb, extra, strict=True):
        log.info("%s: %d unlabelled beats", source, len(rows))
    x_train = np.concatenate([data.part("train").x.astype(np.float32), *extra])
    cfg = replace(params.train, seed=0, seeds=args.seeds, checkpoint_every=0,
                  epochs=args.epochs or params.train.epochs)  # fmt: skip
    t0 = time.perf_counter()
    trained = train_grid(x_train, cfg, grid, seeds=list(range(args.seeds)))
    scores = score_grid(trained, data, [c.name for c in grid], prefix="+unlabelled ")
    elapsed = time.perf_counter() - t0
    scores |= baseline_scores(data)
    counts = ", ".join(f"{Path(s).name} {len(rows):,}" for s, rows in zip(args.wfdb, extra, strict=True))
    print(f"## LUDB's training beats ({len(data.part('train')):,}) and unlabelled beats ({counts}): "
          f"{args.seeds} seeds, {cfg.epochs} epochs, lr {cfg.lr:g}, recon σ {cfg.recon_sigma}, {elapsed:.0f} s "
          "(training and scoring); scored on LUDB's test split\n")  # fmt: skip
    print_table(scores, data.factor_names)


if __name__ == "__main__":
    main()
