"""Runs inside the separate neurokit2 environment (.venv-neurokit; neurokit2 is not a project dependency):
detects R peaks with neurokit2's default detector on channel 0 of each MIT-BIH record given and prints
{record: {"peaks": [...], "seconds": best wall time}} as JSON for benchmarks.rpeaks to score.

    .venv-neurokit/bin/python benchmarks/neurokit_peaks.py MITDB_DIR RECORD... [--repeats N]
"""

import json
import sys
import time

import neurokit2 as nk
import wfdb


def main() -> None:
    args = sys.argv[1:]
    repeats = 3
    if "--repeats" in args:
        i = args.index("--repeats")
        repeats = int(args[i + 1])
        del args[i : i + 2]
    mitdb, records = args[0], args[1:]
    out = {}
    for name in records:
        rec = wfdb.rdrecord(f"{mitdb}/{name}")
        signal, fs = rec.p_signal[:, 0], rec.fs
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            _, info = nk.ecg_peaks(nk.ecg_clean(signal, sampling_rate=fs), sampling_rate=fs)
            times.append(time.perf_counter() - t0)
        out[name] = {"peaks": [int(p) for p in info["ECG_R_Peaks"]], "seconds": min(times)}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
