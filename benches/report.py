#!/usr/bin/env python3
"""Markdown table of the benchmark medians, with ratios to staticflow.

Reads criterion's results, DIR/<row>/<implementation>/new/estimates.json
(with the benchmark.json beside it for the exact IDs), from every DIR given:

    python3 benches/report.py                      # $CARGO_TARGET_DIR or target, /criterion
    python3 benches/report.py run1 run2 run3 peers # several runs, plus the peer crate's

When a benchmark appears in several directories (copies of target/criterion
saved after each of several runs), its median is the median of its medians,
and the `runs` column shows how many there were and their spread,
(max - min) / median, as a measure of the machine's noise. The ratio is the
implementation's median over staticflow's in the same row: above 1 means
staticflow is faster. Standard library only.
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
    "plain_f32",
    "avx2_fma",
    "ndarray_tuned",
    "ndarray_naive",
    "interpreted",
    "candle",
    "tract",
    "burn_flex",
    "candle_2t",
    "tract_2t",
    "burn_flex_2t",
]
REFERENCE = "staticflow"


def default_directory():
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    return Path(target) / "criterion"


def collect(directories):
    """{(row, implementation): [median in ns, one per directory holding it]}."""
    medians = {}
    for directory in directories:
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
            median = json.loads(estimates.read_text())["median"]["point_estimate"]
            medians.setdefault(key, []).append(median)
    return medians


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


def table(medians):
    rows = sorted({row for row, _ in medians}, key=lambda r: rank(r, ROWS))
    runs = max(len(values) for values in medians.values())
    lines = [
        "| row | implementation | median | vs staticflow | runs, spread |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for row in rows:
        implementations = sorted(
            (imp for r, imp in medians if r == row), key=lambda i: rank(i, IMPLEMENTATIONS)
        )
        reference = medians.get((row, REFERENCE))
        reference = statistics.median(reference) if reference else None
        for imp in implementations:
            values = medians[(row, imp)]
            median = statistics.median(values)
            versus = ratio(median / reference) if reference else "n/a"
            spread = (max(values) - min(values)) / median if len(values) > 1 else 0.0
            lines.append(
                f"| {row} | {imp} | {duration(median)} | {versus} | {len(values)}, {spread:.0%} |"
            )
    return runs, "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "directories",
        nargs="*",
        type=Path,
        help="criterion output directories (default: $CARGO_TARGET_DIR/criterion or target/criterion)",
    )
    args = parser.parse_args()
    directories = args.directories or [default_directory()]
    runs, text = table(collect(directories))
    print(text)
    print()
    print(
        f"Medians of criterion's median per benchmark over up to {runs} run(s); "
        "vs staticflow = median time / staticflow's median time in the same row "
        "(above 1: staticflow is faster); spread = (max - min) / median across runs."
    )


if __name__ == "__main__":
    main()
