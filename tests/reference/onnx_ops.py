"""One small ONNX model per operator form the importer maps, run by onnxruntime.

Each model is built with the `onnx` helper API (one or a few nodes, the
attribute forms and opsets that change an operator's meaning), given seeded
random inputs and run by onnxruntime with its graph optimizations off.
Writes tests/reference/fixtures/onnx/ops/<name>.onnx, <name>.<input>.npy and
<name>.<output>.npy, read by tests/onnx_ops.rs.

Run from the repository root: python3 tests/reference/onnx_ops.py
"""
import pathlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "reference" / "fixtures" / "onnx" / "ops"
OUT.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(20261207)
F = TensorProto.FLOAT
I64 = TensorProto.INT64


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def model(name, nodes, inputs, outputs, inits=(), opset=13, feeds=None):
    """Builds, checks, runs and saves one model; `inputs` are (name, array)."""
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(n, F if a.dtype == np.float32 else I64, list(a.shape))
         for n, a in inputs],
        [helper.make_tensor_value_info(n, t, None) for n, t in outputs],
        list(inits),
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(m.SerializeToString(), options, providers=["CPUExecutionProvider"])
    results = session.run(None, dict(inputs))
    onnx.save(m, OUT / f"{name}.onnx")
    for n, a in inputs:
        np.save(OUT / f"{name}.{n}.npy", a)
    for (n, _), r in zip(outputs, results):
        np.save(OUT / f"{name}.{n}.npy", r)
    print(name, [n.op_type for n in nodes], [r.shape for r in results])


def x(*shape):
    return rng.normal(size=shape).astype(np.float32)


# Gemm with every flag: A transposed, B (constant) transposed, alpha, beta.
model("gemm_flags",
      [helper.make_node("Gemm", ["a", "b", "c"], ["out"], transA=1, transB=1, alpha=0.5, beta=2.0)],
      [("a", x(4, 3))], [("out", F)],
      [const("b", x(5, 4)), const("c", x(5))])
# Gemm on two run-time matrices with a run-time C.
model("gemm_tensors",
      [helper.make_node("Gemm", ["a", "b", "c"], ["out"], transB=1, alpha=1.5, beta=0.5)],
      [("a", x(2, 3)), ("b", x(4, 3)), ("c", x(2, 4))], [("out", F)])
model("matmul_batched", [helper.make_node("MatMul", ["a", "b"], ["out"])],
      [("a", x(2, 3, 4)), ("b", x(2, 4, 5))], [("out", F)])
model("matmul_vector", [helper.make_node("MatMul", ["a", "w"], ["out"])],
      [("a", x(3, 4))], [("out", F)], [const("w", x(4))])
# Softmax before opset 13: over every axis from `axis` on.
model("softmax_opset11", [helper.make_node("Softmax", ["x"], ["out"], axis=1)],
      [("x", x(2, 3, 4))], [("out", F)], opset=11)
model("log_softmax_opset13", [helper.make_node("LogSoftmax", ["x"], ["out"], axis=1)],
      [("x", x(2, 3, 4))], [("out", F)])
model("clip_inputs",
      [helper.make_node("Clip", ["x", "lo", "hi"], ["out"])],
      [("x", x(3, 4))], [("out", F)], [const("lo", np.float32(-0.5)), const("hi", np.float32(0.7))])
model("clip_attributes", [helper.make_node("Clip", ["x"], ["out"], min=-0.3, max=0.4)],
      [("x", x(3, 4))], [("out", F)], opset=10)
model("activations",
      [helper.make_node("LeakyRelu", ["x"], ["leaky"], alpha=0.1),
       helper.make_node("HardSigmoid", ["x"], ["hard"], alpha=0.3, beta=0.4),
       helper.make_node("Elu", ["x"], ["elu"], alpha=0.7),
       helper.make_node("Softplus", ["x"], ["softplus"]),
       helper.make_node("Sigmoid", ["x"], ["sigmoid"]),
       helper.make_node("Tanh", ["x"], ["tanh"]),
       helper.make_node("Erf", ["x"], ["erf"]),
       helper.make_node("Neg", ["x"], ["neg"]),
       helper.make_node("Exp", ["x"], ["exp"]),
       helper.make_node("Abs", ["x"], ["abs"]),
       helper.make_node("Sqrt", ["abs"], ["sqrt"]),
       helper.make_node("Log", ["exp"], ["log"]),
       helper.make_node("Pow", ["x", "three"], ["cube"])],
      [("x", x(3, 5))],
      [(n, F) for n in ["leaky", "hard", "elu", "softplus", "sigmoid", "tanh", "erf", "neg",
                        "exp", "abs", "sqrt", "log", "cube"]],
      [const("three", np.float32(3.0))])
model("gelu_tanh", [helper.make_node("Gelu", ["x"], ["out"], approximate="tanh")],
      [("x", x(3, 4))], [("out", F)], opset=20)
model("broadcasting",
      [helper.make_node("Sub", ["x", "row"], ["sub"]),
       helper.make_node("Div", ["sub", "column"], ["div"]),
       helper.make_node("Max", ["div", "x"], ["max"]),
       helper.make_node("Min", ["max", "row"], ["out"])],
      [("x", x(3, 4))], [("out", F)],
      [const("row", x(4)), const("column", (np.abs(x(3, 1)) + 0.5).astype(np.float32))])
model("reduce_attributes",
      [helper.make_node("ReduceMean", ["x"], ["mean"], axes=[1], keepdims=1),
       helper.make_node("ReduceMax", ["x"], ["max"], axes=[0, 2], keepdims=0),
       helper.make_node("ReduceMin", ["x"], ["min"], axes=[-1], keepdims=0)],
      [("x", x(2, 3, 4))], [("mean", F), ("max", F), ("min", F)])
model("reduce_inputs",
      [helper.make_node("ReduceSum", ["x", "axes"], ["sum"], keepdims=1),
       helper.make_node("ReduceMean", ["x", "axes"], ["mean"], keepdims=0)],
      [("x", x(2, 3, 4))], [("sum", F), ("mean", F)], [const("axes", np.array([0, 2], dtype=np.int64))],
      opset=18)
model("argmax", [helper.make_node("ArgMax", ["x"], ["out"], axis=1, keepdims=0)],
      [("x", x(4, 6))], [("out", I64)])
model("slice_concat",
      [helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["part"]),
       helper.make_node("Concat", ["part", "part"], ["wide"], axis=1),
       helper.make_node("Concat", ["wide", "x"], ["out"], axis=0)],
      [("x", x(4, 6))], [("out", F)],
      [const("starts", np.array([1, -3], dtype=np.int64)), const("ends", np.array([3, 1000], dtype=np.int64)),
       const("axes", np.array([0, 1], dtype=np.int64))])
model("squeeze_unsqueeze_inputs",
      [helper.make_node("Unsqueeze", ["x", "where"], ["wide"]),
       helper.make_node("Squeeze", ["wide", "first"], ["out"])],
      [("x", x(3, 4))], [("out", F)],
      [const("where", np.array([0, 3], dtype=np.int64)), const("first", np.array([0], dtype=np.int64))])
model("squeeze_unsqueeze_attributes",
      [helper.make_node("Unsqueeze", ["x"], ["wide"], axes=[1]),
       helper.make_node("Squeeze", ["wide"], ["out"], axes=[1])],
      [("x", x(3, 4))], [("out", F)], opset=11)
model("gather_index", [helper.make_node("Gather", ["x", "i"], ["out"], axis=1)],
      [("x", x(3, 4))], [("out", F)], [const("i", np.array(2, dtype=np.int64))])
model("gather_embedding", [helper.make_node("Gather", ["table", "ids"], ["out"], axis=0)],
      [("ids", rng.integers(0, 10, size=(2, 3)).astype(np.int64))], [("out", F)], [const("table", x(10, 4))])
model("transpose", [helper.make_node("Transpose", ["x"], ["out"], perm=[2, 0, 1])],
      [("x", x(2, 3, 4))], [("out", F)])
model("flatten_axis2", [helper.make_node("Flatten", ["x"], ["out"], axis=2)],
      [("x", x(2, 3, 4, 5))], [("out", F)])
model("reshape_zero_minus_one", [helper.make_node("Reshape", ["x", "shape"], ["out"])],
      [("x", x(2, 3, 4))], [("out", F)], [const("shape", np.array([0, -1], dtype=np.int64))])
model("pools",
      [helper.make_node("AveragePool", ["x"], ["avg_pad"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                        count_include_pad=1),
       helper.make_node("MaxPool", ["x"], ["max_asym"], kernel_shape=[2, 2], strides=[2, 2],
                        pads=[0, 0, 1, 1]),
       helper.make_node("AveragePool", ["x"], ["avg_same"], kernel_shape=[2, 2], strides=[2, 2],
                        auto_pad="SAME_UPPER"),
       helper.make_node("GlobalMaxPool", ["x"], ["global_max"])],
      [("x", x(1, 2, 5, 5))], [("avg_pad", F), ("max_asym", F), ("avg_same", F), ("global_max", F)])
model("conv_forms",
      [helper.make_node("Conv", ["x", "w"], ["dilated"], dilations=[2, 2], pads=[2, 2, 2, 2]),
       helper.make_node("Conv", ["x", "w2"], ["same_lower"], auto_pad="SAME_LOWER"),
       helper.make_node("Conv", ["x", "w"], ["strided"], strides=[2, 2])],
      [("x", x(1, 2, 7, 7))], [("dilated", F), ("same_lower", F), ("strided", F)],
      [const("w", x(3, 2, 3, 3)), const("w2", x(3, 2, 2, 2))])
model("batch_norm_2d",
      [helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["out"], epsilon=1e-3)],
      [("x", x(5, 3))], [("out", F)],
      [const("scale", x(3)), const("bias", x(3)), const("mean", x(3)),
       const("var", (np.abs(x(3)) + 0.5).astype(np.float32))])
model("layer_norm_no_bias",
      [helper.make_node("LayerNormalization", ["x", "scale"], ["out"], epsilon=1e-4)],
      [("x", x(2, 3, 6))], [("out", F)], [const("scale", x(6))], opset=17)
model("constant_of_shape",
      [helper.make_node("Shape", ["x"], ["shape"]),
       helper.make_node("ConstantOfShape", ["shape"], ["fill"],
                        value=numpy_helper.from_array(np.array([2.5], dtype=np.float32))),
       helper.make_node("Constant", [], ["k"], value_float=-1.5),
       helper.make_node("Mul", ["fill", "k"], ["scaled"]),
       helper.make_node("Add", ["x", "scaled"], ["out"])],
      [("x", x(3, 4))], [("out", F)])
