#!/usr/bin/env python3
"""onnxruntime's time per call on the ONNX fixture models, the Python side of
the ONNX import benchmark (issue 20).

Loads tests/reference/fixtures/onnx/{mlp,lenet}.onnx (written by
tests/reference/onnx_models.py) into onnxruntime's CPU provider, single
threaded (intra_op_num_threads=1, inter_op_num_threads=1, ORT_SEQUENTIAL,
default graph optimizations), and times one forward pass at batch 1 and 64
three ways:
  run        sess.run(outputs, {name: numpy array}), the usual call
  ort_values sess.run_with_ort_values on an input OrtValue made once
  iobinding  sess.run_with_iobinding, input and outputs bound once to
             preallocated OrtValues (no allocation or conversion per call)
Each figure is the median over many single calls (perf_counter_ns around
each call) after a warm-up, in microseconds; the inputs are seeded normal
draws. Prints a table and, with --json FILE, writes the figures.

Run from the repository root:
    nice -n 10 python3 benches/onnxruntime_bench.py
Needs: pip install onnxruntime numpy
"""
import argparse
import json
import pathlib
import statistics
import time

import numpy as np
import onnxruntime as ort

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "reference" / "fixtures" / "onnx"
MODELS = ("mlp", "lenet")
BATCHES = (1, 64)


def session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def median_us(call, seconds):
    """Median of single-call times over about `seconds`, after a warm-up."""
    for _ in range(50):
        call()
    start = time.perf_counter()
    times = []
    while time.perf_counter() - start < seconds or len(times) < 200:
        t0 = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1000.0, len(times)


def bench(name, batch, seconds, rng):
    sess = session(FIXTURES / f"{name}.onnx")
    (inp,) = sess.get_inputs()
    outputs = [o.name for o in sess.get_outputs()]
    shape = [batch] + [d for d in inp.shape[1:]]
    x = rng.normal(size=shape).astype(np.float32)
    feeds = {inp.name: x}
    expected = sess.run(outputs, feeds)

    x_value = ort.OrtValue.ortvalue_from_numpy(x)
    binding = sess.io_binding()
    binding.bind_ortvalue_input(inp.name, x_value)
    for out_name, out in zip(outputs, expected):
        binding.bind_ortvalue_output(out_name, ort.OrtValue.ortvalue_from_numpy(np.empty_like(out)))
    sess.run_with_iobinding(binding)
    for got, want in zip(binding.copy_outputs_to_cpu(), expected):
        assert np.array_equal(got, want)

    return {
        "run": median_us(lambda: sess.run(outputs, feeds), seconds),
        "ort_values": median_us(lambda: sess.run_with_ort_values(outputs, {inp.name: x_value}), seconds),
        "iobinding": median_us(lambda: sess.run_with_iobinding(binding), seconds),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per figure (default 2)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    rng = np.random.default_rng(20261207)
    rows = {}
    print(f"onnxruntime {ort.__version__}, numpy {np.__version__}, one thread; median us per call")
    print(f"{'model':<8} {'batch':>5} {'run':>10} {'ort_values':>11} {'iobinding':>10}  calls")
    for name in MODELS:
        for batch in BATCHES:
            figures = bench(name, batch, args.seconds, rng)
            rows[f"{name}_batch{batch}"] = {k: round(v[0], 2) for k, v in figures.items()}
            calls = "/".join(str(v[1]) for v in figures.values())
            print(f"{name:<8} {batch:>5} {figures['run'][0]:>10.2f} {figures['ort_values'][0]:>11.2f}"
                  f" {figures['iobinding'][0]:>10.2f}  {calls}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(
            {"onnxruntime": ort.__version__, "unit": "us per call, median", "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
