"""Small ONNX files for the compile-fail cases of `#[onnx(..)]` (tests/ui/onnx-*.rs).

Writes tests/reference/fixtures/onnx/ui/:
- unsupported.onnx: a valid model using operators the importer does not map
  (`NonZero`, and `Conv` with two groups), so both errors show at once;
- truncated.onnx: the first 1,000 bytes of mlp.onnx (cut inside a weight);
- unnamed_dim.onnx: an input whose batch axis has neither a size nor a name.

Run from the repository root: python3 tests/reference/onnx_ui.py
"""
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "reference" / "fixtures" / "onnx"
OUT = FIXTURES / "ui"
OUT.mkdir(parents=True, exist_ok=True)


def save(model, name):
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, OUT / name)


weight = numpy_helper.from_array(np.ones((4, 2, 3, 3), dtype=np.float32), "kernel")
graph = helper.make_graph(
    [
        helper.make_node("Conv", ["image", "kernel"], ["features"], name="grouped", group=2),
        helper.make_node("NonZero", ["features"], ["where"], name="nonzero"),
    ],
    "unsupported",
    [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 4, 8, 8])],
    [helper.make_tensor_value_info("where", TensorProto.INT64, [4, None])],
    [weight],
)
save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), "unsupported.onnx")

(OUT / "truncated.onnx").write_bytes((FIXTURES / "mlp.onnx").read_bytes()[:1000])

graph = helper.make_graph(
    [helper.make_node("Relu", ["x"], ["y"])],
    "unnamed",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])],
)
save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), "unnamed_dim.onnx")
