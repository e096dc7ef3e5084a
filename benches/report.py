#!/usr/bin/env python3
"""Markdown table of the benchmark medians, with ratios to staticflow.

Reads criterion's results, DIR/<row>/<implementation>/new/estimates.json
(with the benchmark.json beside it for the exact IDs). Each argument is one
run: a criterion directory, or several joined with '+' (the main suite's and
the peer crate's of the same run):

    python3 benches/report.py          # one run: $CARGO_TARGET_DIR or target, /criterion
    python3 benches/report.py main1+peers1 main2+peers2 main3+peers3

(Keep one directory per run with CRITERION_HOME=DIR when running cargo bench.)
Only the suite's rows are listed; other benchmarks sharing a directory, such
as graph-macros' expansion benches, are left out unless --all is given.

Columns: `median` is the median over runs of criterion's median; `vs
staticflow` is the median over runs of the implementation's time divided by
staticflow's in the same run (above 1: staticflow is faster), which cancels
the phases when a busy machine slows every implementation of a run alike;
`runs, spread` counts the runs and gives (max - min) / median of the times
across them, as a measure of the machine's noise. Standard library only.
"""

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

# Rows and implementations in the order of benches/graphs.rs and the peer
# crate; anything else found is listed after these, alphabetically.
ROWS = [
    "seed_scalar",
    "seed_1x1000",
    "mlp_784_128_10_batch1",
    "mlp_784_128_10_batch64",
    "mlp_64_256_256_10_batch1",
    "mlp_64_256_256_10_batch256",
]
IMPLEMENTATIONS = [
    "staticflow",
    "staticflow_owned",
    "plain_f32",
    "avx2_fma",
    "ndarray_tuned",
    "ndarray_naive",
    "interpreted",
    "candle",
    "tract",
    "burn_flex",
    "staticflow_2t",
    "candle_2t",
    "tract_2t",
    "burn_flex_2t",
]
REFERENCE = "staticflow"


def default_directory():
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    return Path(target) / "criterion"


def collect(runs):
    """One {(row, implementation): median in ns} per run; a run is one or more
    criterion directories joined with '+'."""
    results = []
    for run in runs:
        medians = {}
        for directory in run.split("+"):
            found = sorted(Path(directory).glob("**/new/estimates.json"))
            if not found:
                sys.exit(f"report.py: no criterion results under {directory}")
            for estimates in found:
                meta_path = estimates.with_name("benchmark.json")
                if meta_path.exists():
                    meta = json.loads(meta_path.read_text())
                    key = (meta["group_id"], meta["function_id"] or "")
                else:
                    key = (estimates.parent.parent.parent.name, estimates.parent.parent.name)
                estimate = json.loads(estimates.read_text())["median"]["point_estimate"]
                medians[key] = estimate
        results.append(medians)
    return results


def rank(name, order):
    return (order.index(name), "") if name in order else (len(order), name)


def duration(ns):
    """Three significant digits in the largest unit that keeps them above 1."""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            value = ns / scale
            break
    else:
        unit, value = "ns", ns
    decimals = 3 if value < 1 else max(0, 3 - len(str(int(value))))
    return f"{value:.{decimals}f} {unit}"


def ratio(value):
    """Three significant digits, at least two decimals below 10."""
    decimals = 2 if value < 10 else max(0, 3 - len(str(int(value))))
    return f"{value:.{decimals}f}x"


def table(runs, every_row=False):
    keys = {key for run in runs for key in run if every_row or key[0] in ROWS}
    if not keys:
        sys.exit("report.py: none of the suite's rows found (--all lists every benchmark)")
    rows = sorted({row for row, _ in keys}, key=lambda r: rank(r, ROWS))
    lines = [
        "| row | implementation | median | vs staticflow | runs, spread |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for row in rows:
        implementations = sorted(
            (imp for r, imp in keys if r == row), key=lambda i: rank(i, IMPLEMENTATIONS)
        )
        for imp in implementations:
            times = [run[(row, imp)] for run in runs if (row, imp) in run]
            ratios = [
                run[(row, imp)] / run[(row, REFERENCE)]
                for run in runs
                if (row, imp) in run and (row, REFERENCE) in run
            ]
            median = statistics.median(times)
            versus = ratio(statistics.median(ratios)) if ratios else "n/a"
            spread = (max(times) - min(times)) / median
            lines.append(
                f"| {row} | {imp} | {duration(median)} | {versus} | {len(times)}, {spread:.0%} |"
            )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "directories",
        nargs="*",
        metavar="RUN",
        help="a criterion output directory, or several joined with '+' that make one run "
        "(default: $CARGO_TARGET_DIR/criterion or target/criterion)",
    )
    parser.add_argument(
        "--all", action="store_true", help="also list benchmarks outside the suite's rows"
    )
    args = parser.parse_args()
    directories = args.directories or [str(default_directory())]
    runs = collect(directories)
    print(table(runs, every_row=args.all))
    print()
    print(
        f"median: the median over {len(runs)} run(s) of criterion's median; "
        "vs staticflow: the median over runs of time / staticflow's time in the same "
        "run (above 1: staticflow is faster); spread: (max - min) / median of the "
        "times across runs."
    )


if __name__ == "__main__":
    main()
