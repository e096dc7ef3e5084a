"""ONNX fixture models for the build-time ONNX importer (issue 20), run
under onnxruntime.

Writes tests/reference/fixtures/onnx/:
  <model>.onnx                  the model (weights seeded, a few KB each)
  <model>.b1.<name>.npy         an input or an output at batch 1
  <model>.b5.<name>.npy         the same at batch 5
  sklearn_digits.test.<name>.npy  the 360 digits test rows, onnxruntime's
                                labels and probabilities, scikit-learn's own
                                predict (sklearn_predict)
  manifest.json                 per model: file, opset(s), exporter, node op
                                types in graph order and the distinct ones,
                                inputs and outputs (name, dtype, shape with
                                the symbolic batch as the string "batch"),
                                the fixture files, and the versions used
  versions.txt                  the versions of every package used

Inputs are float32; outputs are onnxruntime's float32 (int64 for labels),
computed on CPU with one thread and graph optimizations off (op by op, so
no fusion of a given onnxruntime version moves the numbers). That is the
reference an importer matches to about 1e-5 relative. Float32 summation
order alone moves outputs by the amounts the manifest gives per model
(onnxruntime_optimized_vs_reference, torch_vs_reference): under 1e-6
relative (1e-7 absolute) for the MLPs and CNNs' outputs, but up to about
1e-6 absolute for the transformer block's LayerNorm outputs, which is up to
1e-3 relative on its smallest ones (|out| ~ 1e-3), and scikit-learn's
probabilities go down to 1e-19: compare with an absolute floor (for
example |got - want| <= 1e-5 * |want| + 2e-6).

Models (every batch dim is the symbolic dim_param "batch"):
  mlp               64-32-10, Gemm(transB=1)/Relu/Gemm/Softmax, opset 11,
                    two outputs (logits, probabilities)
  mlp_opset_latest  the same weights, torch's newest exporter and opset
  lenet             1x16x16 NCHW, Conv5x5 pad2/Relu/MaxPool2/Conv3x3 pad1/
                    Relu/MaxPool2/Flatten/Gemm/Relu/Gemm, opset 13
  lenet_shape_ops   the same weights flattened by x.view(x.size(0), -1) at
                    opset 11: Shape/Gather/Unsqueeze(axes attribute)/Concat/
                    Reshape instead of Flatten
  bn_gap            3x16x16, Conv/BatchNormalization/Relu, Conv stride 2
                    pads 1/BatchNormalization/Relu, GlobalAveragePool,
                    Flatten, Gemm; eval mode, non-trivial running stats,
                    opset 17 (BatchNormalization kept, not fused into Conv)
  transformer       one encoder block on [batch, 8, 16]: single-head
                    attention as MatMul/Transpose/Mul/Softmax, residual,
                    LayerNormalization, 16-32-16 feed-forward with exact
                    GELU, residual, LayerNormalization; torch's newest
                    opset (23), where GELU is one Gelu op
  transformer_opset17  the same weights at opset 17, where GELU is
                    Div/Erf/Add/Mul/Mul
  sklearn_digits    scikit-learn's MLPClassifier (as in sklearn_digits.py:
                    hidden 32, relu, trained on the first 1437 rows of
                    tests/data/digits.csv, pixels / 16) through skl2onnx
                    with zipmap off; the 360 test rows are the last 360

PyTorch models go through torch.onnx.export: the TorchScript exporter
(dynamo=False) for fixed older opsets, the torch.export-based one (with
onnxscript) for the newest opset. Node doc strings and metadata (which
hold source paths) are stripped.

Needs: pip install torch onnx onnxruntime onnxscript scikit-learn skl2onnx numpy
Run from the repository root: python3 tests/reference/onnx_models.py
"""
import json
import math
import pathlib
import platform
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "reference" / "fixtures" / "onnx"
SEED = 20261207
BATCHES = (1, 5)
MANIFEST = {}

warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=UserWarning)


def digits():
    data = np.loadtxt(ROOT / "tests" / "data" / "digits.csv", delimiter=",", skiprows=1)
    labels = data[:, 0].astype(np.int64)
    pixels = (data[:, 1:] / 16.0).astype(np.float32)
    return pixels, labels


def session(path, optimized=False):
    """The reference runs op by op (graph optimizations off), so no fusion
    of a given onnxruntime version changes the numbers; the optimized
    session is only compared against it, as a measure of float32 noise."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if not optimized:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def difference(got, want):
    """Largest absolute and relative difference of float outputs."""
    worst = {"max_abs": 0.0, "max_rel": 0.0}
    for g, w in zip(got, want):
        if w.dtype != np.float32:
            assert np.array_equal(g, w)
            continue
        d = np.abs(np.asarray(g, np.float64) - w)
        worst["max_abs"] = max(worst["max_abs"], float(d.max()))
        worst["max_rel"] = max(worst["max_rel"], float((d / np.maximum(np.abs(w), 1e-30)).max()))
    return {k: float(f"{v:.3g}") for k, v in worst.items()}


def value_info(values):
    out = []
    for value in values:
        tensor = value.type.tensor_type
        shape = []
        for dim in tensor.shape.dim:
            shape.append(dim.dim_param if dim.HasField("dim_param") else int(dim.dim_value))
        out.append({
            "name": value.name,
            "dtype": onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name,
            "shape": shape,
        })
    return out


def clean(model):
    """Strips what may hold paths or exporter internals, names the batch dim
    'batch' wherever the exporter gave the leading dim a symbol (or left it
    unnamed), and checks the model."""
    model.doc_string = ""
    del model.metadata_props[:]
    model.graph.doc_string = ""
    for node in model.graph.node:
        node.doc_string = ""
        del node.metadata_props[:]
    for value in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        del value.metadata_props[:]
        value.doc_string = ""
    for init in model.graph.initializer:
        del init.metadata_props[:]
    symbols = set()
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            symbols.add(dims[0].dim_param)
            dims[0].dim_param = "batch"
    for value in model.graph.value_info:
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_param") and dim.dim_param in symbols:
                dim.dim_param = "batch"
    onnx.checker.check_model(model, full_check=True)
    return model


def record(name, path, inputs_by_batch, exporter, extra=None):
    """Runs the model under onnxruntime at each batch, writes the inputs and
    outputs as .npy, and enters the model in the manifest."""
    model = onnx.load(str(path))
    sess = session(path)
    optimized = session(path, optimized=True)
    output_names = [o.name for o in sess.get_outputs()]
    fixtures = {}
    results = {}
    noise = {"max_abs": 0.0, "max_rel": 0.0}
    smallest = float("inf")
    for tag, feeds in inputs_by_batch.items():
        outputs = sess.run(output_names, feeds)
        d = difference(optimized.run(output_names, feeds), outputs)
        noise = {k: max(noise[k], d[k]) for k in noise}
        smallest = min([smallest] + [float(np.abs(o).min()) for o in outputs if o.dtype == np.float32])
        files = {}
        for key, array in list(feeds.items()) + list(zip(output_names, outputs)):
            array = np.ascontiguousarray(array)
            assert array.dtype in (np.float32, np.int64), (name, key, array.dtype)
            file = f"{name}.{tag}.{key}.npy"
            np.save(OUT / file, array)
            files[key] = file
        fixtures[tag] = files
        results[tag] = dict(zip(output_names, outputs))
    nodes = [n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}:{n.op_type}" for n in model.graph.node]
    entry = {
        "file": path.name,
        "bytes": path.stat().st_size,
        "exporter": exporter,
        "ir_version": model.ir_version,
        "opset": {(o.domain or "ai.onnx"): o.version for o in model.opset_import},
        "op_types": sorted(set(nodes)),
        "nodes": nodes,
        "initializers": len(model.graph.initializer),
        "parameters": int(sum(np.prod(i.dims) for i in model.graph.initializer)),
        "inputs": value_info(model.graph.input),
        "outputs": value_info(model.graph.output),
        "fixtures": fixtures,
        "smallest_abs_float_output": float(f"{smallest:.3g}"),
        "onnxruntime_optimized_vs_reference": noise,
    }
    if extra:
        entry.update(extra)
    MANIFEST[name] = entry
    print(f"{name}: {path.stat().st_size} bytes, opset {entry['opset']}, ops {entry['op_types']}")
    print(f"  nodes: {' '.join(nodes)}")
    write_manifest()
    return results


def write_manifest():
    versions = package_versions()
    doc = {
        "generator": "tests/reference/onnx_models.py",
        "seed": SEED,
        "reference": "onnxruntime CPUExecutionProvider, one thread, graph optimizations off, float32",
        "tolerance": "1e-5 relative to the reference with an absolute floor (|got - want| <= 1e-5 * |want| + 2e-6); see each model's onnxruntime_optimized_vs_reference and torch_vs_reference for the float32 noise",
        "batch_dim": "every symbolic batch dim is dim_param 'batch'; fixtures at batch 1 (b1) and 5 (b5)",
        "versions": versions,
        "models": MANIFEST,
    }
    (OUT / "manifest.json").write_text(json.dumps(doc, indent=1) + "\n")
    (OUT / "versions.txt").write_text("".join(f"{k} {v}\n" for k, v in versions.items()))


def package_versions():
    import onnxscript
    import skl2onnx
    import sklearn
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": ort.__version__,
        "onnxscript": onnxscript.__version__,
        "scikit-learn": sklearn.__version__,
        "skl2onnx": skl2onnx.__version__,
    }


def export_legacy(module, example, path, opset, input_names, output_names, **kwargs):
    torch.onnx.export(
        module, example, str(path), dynamo=False, opset_version=opset,
        input_names=input_names, output_names=output_names,
        dynamic_axes={n: {0: "batch"} for n in input_names + output_names},
        do_constant_folding=True, **kwargs)
    onnx.save(clean(onnx.load(str(path))), str(path))


def export_dynamo(module, example, path, opset, input_names, output_names, arg_names):
    batch = torch.export.Dim("batch", min=1, max=1024)
    program = torch.onnx.export(
        module, example, dynamo=True, opset_version=opset,
        input_names=input_names, output_names=output_names,
        dynamic_shapes={a: {0: batch} for a in arg_names}, verbose=False)
    program.save(str(path))
    onnx.save(clean(onnx.load(str(path))), str(path))


def batches(make):
    """{'b1': feeds, 'b5': feeds} from make(batch, offset)."""
    out = {}
    offset = 0
    for b in BATCHES:
        out[f"b{b}"] = make(b, offset)
        offset += b
    return out


# ---- models ----------------------------------------------------------------

class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, input):
        logits = self.fc2(torch.relu(self.fc1(input)))
        return logits, torch.softmax(logits, dim=-1)


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 3, padding=1)
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, image):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(image)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(torch.relu(self.fc1(x)))


class LeNetView(LeNet):
    """LeNet flattening by x.view(x.size(0), -1): with a symbolic batch the
    exporter writes Shape/Gather/Unsqueeze/Concat/Reshape, the shape
    arithmetic an importer folds at compile time."""

    def forward(self, image):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(image)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        return self.fc2(torch.relu(self.fc1(x)))


class BnGap(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, image):
        x = torch.relu(self.bn1(self.conv1(image)))
        x = torch.relu(self.bn2(self.conv2(x)))
        x = torch.flatten(self.gap(x), 1)
        return self.fc(x)


class EncoderBlock(nn.Module):
    def __init__(self, d=16, ff=32):
        super().__init__()
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.o = nn.Linear(d, d)
        self.ln1 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, ff)
        self.ff2 = nn.Linear(ff, d)
        self.ln2 = nn.LayerNorm(d)
        self.scale = 1.0 / math.sqrt(d)

    def forward(self, tokens):
        q, k, v = self.q(tokens), self.k(tokens), self.v(tokens)
        scores = torch.matmul(q, k.transpose(1, 2)) * self.scale
        attention = torch.matmul(torch.softmax(scores, dim=-1), v)
        h = self.ln1(tokens + self.o(attention))
        f = self.ff2(nn.functional.gelu(self.ff1(h), approximate="none"))
        return self.ln2(h + f)


def randomize_norms(module, generator):
    """Non-trivial affine parameters and running statistics, so nothing
    folds to identity and two norms never share an initializer."""
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
            with torch.no_grad():
                m.weight.copy_(1.0 + 0.2 * torch.randn(m.weight.shape, generator=generator))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=generator))
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.copy_(0.3 * torch.randn(m.running_mean.shape, generator=generator))
                    m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=generator))


def torch_models(pixels):
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    rng = np.random.default_rng(SEED)

    # mlp: the digits rows as inputs.
    mlp = Mlp().eval()
    feeds = batches(lambda b, o: {"input": pixels[o:o + b]})
    example = (torch.from_numpy(feeds["b1"]["input"]),)
    export_legacy(mlp, example, OUT / "mlp.onnx", 11, ["input"], ["logits", "probabilities"])
    check_against_torch("mlp", record("mlp", OUT / "mlp.onnx", feeds, "torch.onnx.export(dynamo=False)"), mlp, feeds)
    export_dynamo(mlp, example, OUT / "mlp_opset_latest.onnx", 23, ["input"], ["logits", "probabilities"], ["input"])
    check_against_torch("mlp_opset_latest", record("mlp_opset_latest", OUT / "mlp_opset_latest.onnx", feeds,
                               "torch.onnx.export(dynamo=True)", {"same_weights_as": "mlp"}), mlp, feeds)

    # lenet: the digits 8x8 images, each pixel doubled to 16x16.
    lenet = LeNet().eval()
    images = np.kron(pixels.reshape(-1, 1, 8, 8), np.ones((2, 2), dtype=np.float32)).astype(np.float32)
    feeds = batches(lambda b, o: {"image": images[o:o + b]})
    example = (torch.from_numpy(feeds["b1"]["image"]),)
    export_legacy(lenet, example, OUT / "lenet.onnx", 13, ["image"], ["logits"])
    check_against_torch("lenet", record("lenet", OUT / "lenet.onnx", feeds, "torch.onnx.export(dynamo=False)"), lenet, feeds)

    lenet_view = LeNetView().eval()
    lenet_view.load_state_dict(lenet.state_dict())
    export_legacy(lenet_view, example, OUT / "lenet_shape_ops.onnx", 11, ["image"], ["logits"])
    check_against_torch("lenet_shape_ops", record("lenet_shape_ops", OUT / "lenet_shape_ops.onnx", feeds,
                        "torch.onnx.export(dynamo=False)", {"same_weights_as": "lenet"}), lenet_view, feeds)

    # bn_gap: seeded normal images. TrainingMode.PRESERVE on an eval-mode
    # module keeps BatchNormalization in the graph instead of folding it
    # into the Conv weights (what TrainingMode.EVAL's peephole does).
    bn_gap = BnGap()
    randomize_norms(bn_gap, generator)
    bn_gap.eval()
    images = rng.normal(size=(sum(BATCHES), 3, 16, 16)).astype(np.float32)
    feeds = batches(lambda b, o: {"image": images[o:o + b]})
    example = (torch.from_numpy(feeds["b1"]["image"]),)
    export_legacy(bn_gap, example, OUT / "bn_gap.onnx", 17, ["image"], ["logits"],
                  training=torch.onnx.TrainingMode.PRESERVE)
    check_against_torch("bn_gap", record("bn_gap", OUT / "bn_gap.onnx", feeds, "torch.onnx.export(dynamo=False)"), bn_gap, feeds)

    # transformer: seeded normal token embeddings [batch, 8, 16].
    block = EncoderBlock()
    randomize_norms(block, generator)
    block.eval()
    tokens = rng.normal(size=(sum(BATCHES), 8, 16)).astype(np.float32)
    feeds = batches(lambda b, o: {"tokens": tokens[o:o + b]})
    example = (torch.from_numpy(tokens[:2]),)  # batch 2, so the export does not specialize batch 1
    export_dynamo(block, example, OUT / "transformer.onnx", 23, ["tokens"], ["output"], ["tokens"])
    check_against_torch("transformer", record("transformer", OUT / "transformer.onnx", feeds, "torch.onnx.export(dynamo=True)"), block, feeds)
    export_legacy(block, example, OUT / "transformer_opset17.onnx", 17, ["tokens"], ["output"])
    check_against_torch("transformer_opset17", record("transformer_opset17", OUT / "transformer_opset17.onnx", feeds,
                               "torch.onnx.export(dynamo=False)", {"same_weights_as": "transformer"}), block, feeds)


def check_against_torch(name, results, module, feeds):
    """torch's own forward against the onnxruntime reference, as a check of
    the export and a second measure of float32 noise."""
    worst = {"max_abs": 0.0, "max_rel": 0.0}
    with torch.no_grad():
        for tag, feed in feeds.items():
            expected = module(*[torch.from_numpy(a) for a in feed.values()])
            if isinstance(expected, torch.Tensor):
                expected = (expected,)
            d = difference([e.numpy() for e in expected], list(results[tag].values()))
            worst = {k: max(worst[k], d[k]) for k in worst}
    MANIFEST[name]["torch_vs_reference"] = worst
    write_manifest()
    print(f"  torch vs reference: {worst}; onnxruntime optimized vs reference:"
          f" {MANIFEST[name]['onnxruntime_optimized_vs_reference']}")
    assert worst["max_abs"] < 1e-5, worst


def sklearn_digits(pixels, labels):
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.neural_network import MLPClassifier

    # The split and the model of tests/reference/sklearn_digits.py.
    train_x, test_x = pixels[:1437], pixels[1437:]
    train_y, test_y = labels[:1437], labels[1437:]
    assert len(test_x) == 360
    model = MLPClassifier(hidden_layer_sizes=(32,), activation="relu", max_iter=600, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(train_x, train_y)
    onx = to_onnx(model, initial_types=[("input", FloatTensorType([None, 64]))],
                  options={id(model): {"zipmap": False}},
                  target_opset={"": 17, "ai.onnx.ml": 3})
    path = OUT / "sklearn_digits.onnx"
    onnx.save(clean(onx), str(path))

    sk_predict = model.predict(test_x).astype(np.int64)
    sk_proba = model.predict_proba(test_x)
    feeds = batches(lambda b, o: {"input": test_x[o:o + b]})
    feeds["test"] = {"input": test_x}
    results = record("sklearn_digits", path, feeds, "skl2onnx.to_onnx(zipmap=False)")
    label_name = next(n for n, a in results["test"].items() if a.dtype == np.int64)
    proba_name = next(n for n, a in results["test"].items() if a.dtype == np.float32)
    ort_label = results["test"][label_name]
    ort_proba = results["test"][proba_name]
    np.save(OUT / "sklearn_digits.test.sklearn_predict.npy", sk_predict)
    agree = int((ort_label == sk_predict).sum())
    previous = json.loads((ROOT / "tests" / "reference" / "fixtures" / "sklearn" / "predictions.json").read_text())
    agree_previous = int((ort_label == np.array(previous["predicted"])).sum())
    entry = MANIFEST["sklearn_digits"]
    entry["fixtures"]["test"]["sklearn_predict"] = "sklearn_digits.test.sklearn_predict.npy"
    entry["test_rows"] = "the last 360 rows of tests/data/digits.csv, pixels / 16 (the b1 and b5 fixtures are its first 6 rows)"
    entry["onnxruntime_agrees_with_sklearn_predict"] = f"{agree}/360"
    entry["onnxruntime_agrees_with_fixtures_sklearn_predictions_json"] = f"{agree_previous}/360"
    entry["max_abs_probability_difference_from_sklearn_float64"] = float(np.abs(ort_proba - sk_proba).max())
    entry["test_accuracy"] = float((ort_label == test_y).mean())
    write_manifest()
    print(f"  onnxruntime labels vs sklearn predict: {agree}/360 agree; vs predictions.json {agree_previous}/360;"
          f" max |proba diff| {entry['max_abs_probability_difference_from_sklearn_float64']:.2e};"
          f" accuracy {entry['test_accuracy']:.4f}")
    assert agree == 360


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    pixels, labels = digits()
    torch_models(pixels)
    sklearn_digits(pixels, labels)


if __name__ == "__main__":
    main()
