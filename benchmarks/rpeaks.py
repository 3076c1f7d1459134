"""R-peak detection benchmark: our detector against wfdb's XQRS on the annotated MIT-BIH records and against the
cardiologists' QRS marks of LUDB (every lead of 200 10 s records), and the time to segment a whole 15-lead PTB
record.

    python -m benchmarks.rpeaks [--mitdb DIR] [--ludb DIR] [--ptbdb DIR] [--repeats N]

neurokit2's default detector is scored too when `--neurokit-python` names an environment that has it (it is not a
project dependency; `make bench` builds .venv-neurokit from constraints-neurokit.txt).

Accuracy: beats only (MIT-BIH beat symbols; rhythm, quality and non-beat marks excluded), 150 ms tolerance,
channel 0 of each record. LUDB: the QRS peak marks (`N`) of each lead, the same tolerance, detections scored
between the first and the last marked QRS (LUDB leaves a beat cut by the record's edge unmarked). Speed: samples
per second of the whole detection call, best of `repeats` runs, both detectors on the same machine in the same
run; our speed is also printed as a ratio to XQRS's.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import time
from pathlib import Path

import numpy as np

from pipelines.ecg.beats import BeatConfig, cut_beats
from pipelines.ecg.records import read_signal
from pipelines.ecg.rpeaks import bandpass, detect_rpeaks, score_detections

BEAT_SYMBOLS = set("NLRBAaJSVrFejnE/fQ?")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def xqrs(signal: np.ndarray, fs: float) -> np.ndarray:
    from wfdb.processing import xqrs_detect

    return xqrs_detect(signal, fs, verbose=False)


DETECTORS = {"ours (pipelines.ecg.rpeaks)": detect_rpeaks, "wfdb xqrs_detect": xqrs}
NEUROKIT = "neurokit2 ecg_peaks (default)"


def neurokit_results(python: Path, mitdb: Path, records: list[str], repeats: int) -> dict:
    """Peaks and best times of neurokit2's default detector, run in its own environment (`python`)."""
    script = Path(__file__).with_name("neurokit_peaks.py")
    proc = subprocess.run([str(python), str(script), str(mitdb), *records, "--repeats", str(repeats)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(proc.stdout)


def timed(fn, repeats: int, *args):
    """fn(*args)'s result and its best wall time over `repeats` calls, in seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - t0)
    return result, min(times)


def mitdb_table(mitdb: Path, repeats: int, neurokit_python: Path | None) -> list[str]:
    import wfdb

    records = [line.strip() for line in (mitdb / "RECORDS").read_text().split() if (mitdb / f"{line}.atr").exists()]
    names = [*DETECTORS, *([NEUROKIT] if neurokit_python else [])]
    totals = {name: {"tp": 0, "fp": 0, "fn": 0, "samples": 0, "seconds": 0.0} for name in names}
    nk = neurokit_results(neurokit_python, mitdb, records, repeats) if neurokit_python else {}
    rows = ["| record | detector | Se | +P | F1 | Msamples/s |", "|---|---|---|---|---|---|"]
    for rec_name in records:
        rec = wfdb.rdrecord(str(mitdb / rec_name))
        ann = wfdb.rdann(str(mitdb / rec_name), "atr")
        reference = np.array([s for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym in BEAT_SYMBOLS])
        signal = rec.p_signal[:, 0]
        runs = {name: timed(detect, repeats, signal, rec.fs) for name, detect in DETECTORS.items()}
        if rec_name in nk:
            runs[NEUROKIT] = (np.asarray(nk[rec_name]["peaks"]), nk[rec_name]["seconds"])
        for name, (found, seconds) in runs.items():
            s = score_detections(found, reference, int(0.15 * rec.fs))
            for k in ("tp", "fp", "fn"):
                totals[name][k] += s[k]
            totals[name]["samples"] += len(signal)
            totals[name]["seconds"] += seconds
            rows.append(f"| {rec_name} | {name} | {s['sensitivity']:.4f} | {s['ppv']:.4f} | {s['f1']:.4f} | "
                        f"{len(signal) / seconds / 1e6:.2f} |")  # fmt: skip
    rows += [
        "",
        "| all records | detector | Se | +P | F1 | Msamples/s | speed vs xqrs |",
        "|---|---|---|---|---|---|---|",
    ]
    base = totals["wfdb xqrs_detect"]["samples"] / totals["wfdb xqrs_detect"]["seconds"]
    for name, t in totals.items():
        se, ppv = t["tp"] / (t["tp"] + t["fn"]), t["tp"] / (t["tp"] + t["fp"])
        rate = t["samples"] / t["seconds"]
        rows.append(f"| {len(records)} MIT-BIH | {name} | {se:.4f} | {ppv:.4f} | {2 * se * ppv / (se + ppv):.4f} | "
                    f"{rate / 1e6:.2f} | {rate / base:.1f}x |")  # fmt: skip
    return rows


THRESHOLDS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)  # detect_rpeaks' one tuned parameter; 0.15 is its default


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def leave_one_out(counts: dict[str, dict[float, tuple[int, int, int]]]) -> dict[str, tuple[float, tuple]]:
    """For each record, the threshold of the best pooled F1 on the OTHER records (ties: the smaller threshold)
    and that threshold's (tp, fp, fn) on the record itself. `counts[record][threshold] = (tp, fp, fn)`."""
    chosen = {}
    for held_out in counts:
        others = [r for r in counts if r != held_out]

        def pooled(th: float, others=others) -> float:
            return _f1(*np.sum([counts[r][th] for r in others], axis=0))

        best = max(sorted(counts[held_out]), key=pooled)  # max keeps the first (smallest) of equal scores
        chosen[held_out] = (best, counts[held_out][best])
    return chosen


def mitdb_leave_one_out(mitdb: Path) -> list[str]:
    """Leave-one-record-out F1 beside the in-sample F1 of the default threshold (chosen on all records)."""
    import wfdb

    records = [line.strip() for line in (mitdb / "RECORDS").read_text().split() if (mitdb / f"{line}.atr").exists()]
    counts = {}
    for rec_name in records:
        rec = wfdb.rdrecord(str(mitdb / rec_name))
        ann = wfdb.rdann(str(mitdb / rec_name), "atr")
        reference = np.array([s for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym in BEAT_SYMBOLS])
        counts[rec_name] = {}
        for th in THRESHOLDS:
            s = score_detections(detect_rpeaks(rec.p_signal[:, 0], rec.fs, th), reference, int(0.15 * rec.fs))
            counts[rec_name][th] = (s["tp"], s["fp"], s["fn"])
    chosen = leave_one_out(counts)
    default = 0.15
    rows = ["| record | threshold chosen on the others | F1 left out | F1 in-sample (0.15) |", "|---|---|---|---|"]
    for r in records:
        th, c = chosen[r]
        rows.append(f"| {r} | {th:g} | {_f1(*c):.4f} | {_f1(*counts[r][default]):.4f} |")
    held = np.sum([c for _, c in chosen.values()], axis=0)
    inside = np.sum([counts[r][default] for r in records], axis=0)
    rows.append(f"| all {len(records)} (pooled) | | {_f1(*held):.4f} | {_f1(*inside):.4f} |")
    return rows


TFN = ("tp", "fp", "fn")


def ludb_table(ludb: Path) -> list[str]:
    """Se, +P and F1 of each detector against LUDB's QRS peak marks: on lead II (the pipeline's R-peak lead) and
    pooled over all 12 leads."""
    from pipelines.ecg.ludb import LEADS, read_waves

    totals = {(name, scope): [0, 0, 0] for name in DETECTORS for scope in ("lead ii", "all 12 leads")}
    records = (ludb / "RECORDS").read_text().split()
    for record in records:
        signal, names = read_signal(ludb, record, list(LEADS))
        for j, lead in enumerate(names):
            reference = np.array([w.peak for w in read_waves(ludb, record, lead) if w.kind == "qrs"])
            if not len(reference):
                continue
            tol = int(0.15 * 500)
            for name, detect in DETECTORS.items():
                found = np.asarray(detect(signal[:, j], 500.0))
                found = found[(found >= reference[0] - tol) & (found <= reference[-1] + tol)]
                s = score_detections(found, reference, tol)
                for scope in ("all 12 leads", *(["lead ii"] if lead == "ii" else [])):
                    totals[(name, scope)] = [a + s[k] for a, k in zip(totals[(name, scope)], TFN, strict=True)]
    rows = ["| LUDB records | leads | detector | Se | +P | F1 |", "|---|---|---|---|---|---|"]
    for (name, scope), (tp, fp, fn) in totals.items():
        rows.append(f"| {len(records)} | {scope} | {name} | {tp / (tp + fn):.4f} | {tp / (tp + fp):.4f} | "
                    f"{_f1(tp, fp, fn):.4f} |")  # fmt: skip
    return rows


def ptb_segmentation(ptbdb: Path, repeats: int) -> list[str]:
    """Seconds to condition, detect and cut beats from every lead of one 15-lead PTB record."""
    record = "patient001/s0014lre"
    signal, leads = read_signal(ptbdb, record)
    cfg = BeatConfig()

    def segment_all():  # as segment_beats does it: R peaks once on lead II, beats cut from every lead
        reference = detect_rpeaks(bandpass(signal[:, leads.index("ii")], 1000.0, *cfg.bandpass_hz), 1000.0)
        return sum(len(cut_beats(signal[:, j], 1000.0, cfg, reference).beats) for j in range(len(leads)))

    n_beats, seconds = timed(segment_all, repeats)
    return [f"PTB {record}: {len(leads)} leads x {signal.shape[0]} samples -> {n_beats} beats in {seconds:.3f} s "
            f"(best of {repeats})"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mitdb", type=Path, default=SHARED / "mitdb")
    parser.add_argument("--ptbdb", type=Path, default=SHARED / "ptbdb")
    parser.add_argument("--ludb", type=Path, default=SHARED / "ludb")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--neurokit-python", type=Path, default=None,
                        help="python of an environment with neurokit2 (make bench uses .venv-neurokit)")  # fmt: skip
    args = parser.parse_args()
    logging.getLogger("wfdb").setLevel(logging.WARNING)
    print("## R-peak detection (MIT-BIH, channel 0, 150 ms tolerance)\n")
    print("\n".join(mitdb_table(args.mitdb, args.repeats, args.neurokit_python)))
    print("\n## R-peak threshold chosen leave-one-record-out (no record scores a threshold chosen on itself)\n")
    print("\n".join(mitdb_leave_one_out(args.mitdb)))
    print("\n## R-peak detection against the cardiologists' QRS marks (LUDB, 150 ms tolerance)\n")
    print("\n".join(ludb_table(args.ludb)))
    print("\n## Heartbeat segmentation of a whole PTB record\n")
    print("\n".join(ptb_segmentation(args.ptbdb, args.repeats)))


if __name__ == "__main__":
    main()
