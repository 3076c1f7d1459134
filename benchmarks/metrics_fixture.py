"""The disentanglement metrics against the published formulas, written out independently (plain numpy, entropies
from counts) in tests/evaluation/test_metrics.py, on that test's fixed data set: 5 codes, 3 categorical factors
(4, 5 and 6 levels), 400 points, seed 7; DCI on the test's hand-written 5 x 3 importance matrix.

    python -m benchmarks.metrics_fixture

Prints a Markdown table: metric | ours | published formula (independent) | |difference|.
"""

from __future__ import annotations

from tests.evaluation.test_metrics import fixture_comparison


def main() -> None:
    print("| metric | ours | published formula (independent) | abs. difference |")
    print("|---|---:|---:|---:|")
    for name, ours, independent in fixture_comparison():
        print(f"| {name} | {ours:.12f} | {independent:.12f} | {abs(ours - independent):.1e} |")


if __name__ == "__main__":
    main()
