"""Rebuilds the results of AD-DROP on GLUE from the run files in ``results/runs``: the table (per task the
baseline and AD-DROP mean +/- std over seeds, the gain, the chosen p and q; the average over tasks), the
searches' p x q maps, the paper's Figure 2 (train and dev loss of the prior experiment), and docs/RESULTS.md.

    python results/build_results.py [--runs results/runs] [--out docs]

Each section is built by a module of ``results/report``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from report.build import build
from report.runs import RESULTS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=RESULTS / "runs")
    parser.add_argument("--out", type=Path, default=RESULTS.parent / "docs")
    args = parser.parse_args()
    build(args.runs, args.out)
    print(f"wrote {args.out / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
