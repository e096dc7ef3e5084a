#!/usr/bin/env bash
# Build time of an ONNX import (issue 20, item 8): a crate importing an MLP
# 784-256-256-10 (1.08 MB of weights, baked in) against the same crate
# without the graph, each rebuilt in release mode after a `touch` of its
# source, dependencies already built. Prints the median of RUNS rebuilds of
# each and their difference. Needs python3 with numpy and onnx (to write the
# model). Run from the repository root: bash benches/onnx_build_time.sh
set -euo pipefail
RUNS="${RUNS:-5}"
root="$(pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
python3 - "$work/big.onnx" <<'PY'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(1)
def weight(name, shape):
    return numpy_helper.from_array(rng.normal(0, 0.05, size=shape).astype(np.float32), name)
widths = [784, 256, 256, 10]
inits, nodes, x = [], [], "x"
for i, (a, b) in enumerate(zip(widths, widths[1:])):
    inits += [weight(f"w{i}", (a, b)), weight(f"b{i}", (b,))]
    nodes += [helper.make_node("MatMul", [x, f"w{i}"], [f"h{i}"]),
              helper.make_node("Add", [f"h{i}", f"b{i}"], [f"a{i}"])]
    x = f"a{i}"
    if i < len(widths) - 2:
        nodes.append(helper.make_node("Relu", [x], [f"r{i}"]))
        x = f"r{i}"
nodes[-1].output[0] = "logits"
graph = helper.make_graph(nodes, "big",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 784])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])], inits)
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), sys.argv[1])
PY
cat > "$work/Cargo.toml" <<TOML
[package]
name = "onnx-build-time"
version = "0.0.0"
edition = "2021"
[dependencies]
staticflow = { path = "$root", features = ["onnx"] }
[workspace]
TOML
with_import='use staticflow::graph;
graph! {
    #[onnx("big.onnx")]
    struct Big;
}
fn main() {
    let x = staticflow::ndarray::Array2::<f32>::zeros((1, 784));
    println!("{}", Big::new().logits(&x).unwrap());
}'
without='fn main() {
    let x = staticflow::ndarray::Array2::<f32>::zeros((1, 784));
    println!("{}", x.sum());
}'
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
measure() {
    printf '%s\n' "$1" > "$work/src/main.rs"
    (cd "$work" && cargo build --release -q)
    for _ in $(seq "$RUNS"); do
        touch "$work/src/main.rs"
        start=$(date +%s.%N)
        (cd "$work" && cargo build --release -q)
        echo "$(date +%s.%N) - $start" | bc
    done | median
}
echo "model: $(stat -c %s "$work/big.onnx") bytes"
base=$(measure "$without")
import=$(measure "$with_import")
echo "rebuild without the graph: ${base} s (median of $RUNS)"
echo "rebuild with the import:   ${import} s (median of $RUNS)"
echo "added by the import:       $(echo "$import - $base" | bc) s"
