#!/usr/bin/env python3
"""Reference values for graph-runtime's kernels, computed with numpy.

Writes one JSON file per kernel family to fixtures/kernels/ beside this script;
graph-runtime/tests/*.rs read them. The fixtures are committed, so running the
Rust tests needs no Python: rerun this script (numpy only, `pip install numpy`)
after changing a case, and review the JSON diff like code.

Conventions:
- Inputs are float32 drawn from a seeded generator; each is stored exactly.
- References are computed in float64 from those float32 inputs, by formulas
  written independently of the Rust code where a choice exists, then rounded
  once to float32 (so an overflow to inf is expected as inf).
- A tensor is {"shape": [...], "data": [...]} in row-major order; non-finite
  floats are the strings "nan", "inf" and "-inf", as JSON has no such numbers.
- Window ops (conv2d, pools) follow TensorFlow's definitions written out as
  explicit loops below, and those loops are checked by hand on tiny cases
  before anything is written.
"""

import json
import math
import pathlib
import warnings

import numpy as np

OUT = pathlib.Path(__file__).resolve().parent / "fixtures" / "kernels"
RNG = np.random.default_rng(20240611)
F32 = np.float32


# ---------------------------------------------------------------- encoding


def scalar(v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def tensor(a):
    a = np.asarray(a)
    return {"shape": list(a.shape), "data": [scalar(v) for v in a.ravel().tolist()]}


def out32(a):
    """Rounds a float64 reference once to float32."""
    with np.errstate(over="ignore"):
        return tensor(np.asarray(a, dtype=np.float64).astype(F32))


def normal(shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(F32)


def uniform(shape, lo, hi):
    return RNG.uniform(lo, hi, shape).astype(F32)


def integers(shape, lo, hi):
    """Whole numbers as float32, so that ties and equalities occur."""
    return RNG.integers(lo, hi, shape).astype(F32)


def write(family, cases):
    OUT.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(case, allow_nan=False, separators=(",", ":")) for case in cases]
    text = '{"cases":[\n' + ",\n".join(lines) + "\n]}\n"
    (OUT / f"{family}.json").write_text(text)
    print(f"{family}.json: {len(cases)} cases")


def f64(x):
    return np.asarray(x, dtype=np.float64)


# ---------------------------------------------------------------- unary

SPECIAL = np.array(
    [-1e4, -100, -20, -5, -2.5, -1, -0.5, -1e-3, 0, 1e-3, 0.5, 1, 2.5, 5, 20, 88, 89, 100, 1e4], dtype=F32
)
POSITIVE = np.array([0, 1e-30, 1e-3, 0.25, 1, 2, 10, 1e4, 3e38], dtype=F32)


def sigmoid_ref(x):
    x = f64(x)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1 / (1 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1 + e)
    return out


def gelu_tanh_ref(x):
    x = f64(x)
    with np.errstate(over="ignore", invalid="ignore"):
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
        return 0.5 * x * (1 + np.tanh(inner))


def gelu_exact_ref(x):
    # 1 + erf(x/√2) written as erfc(-x/√2): float64 would cancel otherwise.
    return np.array([0.5 * v * math.erfc(-v / math.sqrt(2)) for v in f64(x).ravel()]).reshape(np.shape(x))


def erf_ref(x):
    return np.array([math.erf(v) for v in f64(x).ravel()]).reshape(np.shape(x))


UNARY = {
    "abs": (lambda x: np.abs(f64(x)), "any"),
    "exp": (lambda x: np.exp(f64(x)), "any"),
    "log": (lambda x: np.log(f64(x)), "positive"),
    "sqrt": (lambda x: np.sqrt(f64(x)), "positive"),
    "square": (lambda x: f64(x) ** 2, "any"),
    "relu": (lambda x: np.maximum(f64(x), 0), "any"),
    "sigmoid": (sigmoid_ref, "any"),
    "tanh": (lambda x: np.tanh(f64(x)), "any"),
    "gelu_tanh": (gelu_tanh_ref, "any"),
    "gelu_exact": (gelu_exact_ref, "any"),
    "erf": (erf_ref, "any"),
    "softplus": (lambda x: np.logaddexp(0, f64(x)), "any"),
}


def unary_cases():
    cases = []
    with np.errstate(over="ignore", divide="ignore"):
        for op, (ref, domain) in UNARY.items():
            special = SPECIAL if domain == "any" else POSITIVE
            random = normal((3, 4), 3.0) if domain == "any" else uniform((3, 4), 0.0, 5.0)
            for name, x in (("special", special), ("random", random), ("empty", np.zeros((0, 2), F32))):
                cases.append({"op": op, "name": name, "x": tensor(x), "out": out32(ref(x))})
        x = normal((2, 3, 2), 2.0)
        for p in (2.0, 0.5, -1.0, 3.0):
            base = np.abs(x) if p == 0.5 else x
            cases.append({"op": "pow", "name": f"p={p}", "p": p, "x": tensor(base), "out": out32(f64(base) ** p)})
        negative_root = np.array([-4.0, 4.0], F32)
        cases.append({"op": "pow", "name": "negative base", "p": 0.5, "x": tensor(negative_root),
                      "out": out32(np.array([math.nan, 2.0]))})
        for alpha in (0.01, 0.2):
            for name, x in (("special", SPECIAL), ("random", normal((4, 3), 2.0))):
                ref = np.where(f64(x) >= 0, f64(x), F32(alpha) * f64(x))
                cases.append({"op": "leaky_relu", "name": f"{name} alpha={alpha}", "alpha": alpha,
                              "x": tensor(x), "out": out32(ref)})
        for lo, hi in ((-1.0, 1.0), (0.0, 6.0), (2.0, -2.0)):
            x = normal((3, 3), 3.0)
            cases.append({"op": "clip", "name": f"[{lo}, {hi}]", "lo": lo, "hi": hi, "x": tensor(x),
                          "out": out32(np.minimum(np.maximum(f64(x), lo), hi))})
    return cases


def erf_scalar_cases():
    xs = [0.0, 1e-10, 1e-3, 0.1, 0.5, 1.0, 1.5, 1.9999, 2.0, 2.0001, 2.5, 3.0, 4.0, 5.0, 5.5, 6.0, 10.0, 26.0]
    xs += [round(v, 2) for v in np.linspace(-6, 6, 121).tolist()]
    xs += [-v for v in xs[:18]]
    return [{"op": "erf_f64", "name": "erf_f64 and erfc_f64 vs math", "x": xs, "erf": [math.erf(v) for v in xs],
             "erfc": [math.erfc(v) for v in xs]}]


# ---------------------------------------------------------------- binary

BROADCAST_SHAPES = [
    ((3, 1), (1, 4)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((2, 3, 4), (4,)),
    ((3,), (2, 1, 3)),
    ((2, 1, 3), (4, 1)),
    ((4, 3), (4, 3)),
    ((0, 3), (3,)),
]


def binary_cases():
    cases = []
    ops = {
        "maximum": np.maximum,
        "minimum": np.minimum,
        "gt": np.greater,
        "ge": np.greater_equal,
        "lt": np.less,
        "le": np.less_equal,
        "eq": np.equal,
    }
    for op, ref in ops.items():
        for a_shape, b_shape in BROADCAST_SHAPES:
            a, b = integers(a_shape, -2, 3), integers(b_shape, -2, 3)
            out = ref(f64(a), f64(b))
            out = tensor(out) if out.dtype == bool else out32(out)
            cases.append({"op": op, "name": f"{list(a_shape)} vs {list(b_shape)}", "a": tensor(a), "b": tensor(b),
                          "out": out})
        a = np.array([[math.nan, 1.0, 2.0], [0.0, math.nan, -1.0]], F32)
        b = np.array([0.0, 1.0, math.nan], F32)
        out = ref(f64(a), f64(b))
        cases.append({"op": op, "name": "nan", "a": tensor(a), "b": tensor(b),
                      "out": tensor(out) if out.dtype == bool else out32(out)})
    for m_shape, a_shape, b_shape in [
        ((3, 1), (1, 4), ()),
        ((4,), (3, 1), (3, 4)),
        ((), (2, 2), (2,)),
        ((2, 1, 3), (4, 1), (1,)),
    ]:
        mask = RNG.random(m_shape) < 0.5
        a, b = normal(a_shape), normal(b_shape)
        cases.append({"op": "select", "name": f"{list(m_shape)} {list(a_shape)} {list(b_shape)}",
                      "mask": tensor(mask), "a": tensor(a), "b": tensor(b),
                      "out": out32(np.where(mask, f64(a), f64(b)))})
    return cases


# ---------------------------------------------------------------- reductions


def reduce_cases():
    cases = []
    x3 = normal((2, 3, 4), 2.0)
    axis_lists = [[], [0], [2], [1, 2], [2, 0], [0, 1, 2]]
    inputs = [("random", x3), ("with nan", np.where(RNG.random((2, 3, 4)) < 0.1, F32(math.nan), x3))]
    refs = {
        "sum": lambda x, ax, k: np.sum(x, axis=ax, keepdims=k),
        "mean": lambda x, ax, k: np.mean(x, axis=ax, keepdims=k),
        "max": lambda x, ax, k: np.max(x, axis=ax, keepdims=k, initial=-np.inf),
        "min": lambda x, ax, k: np.min(x, axis=ax, keepdims=k, initial=np.inf),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for op, ref in refs.items():
            for name, x in inputs:
                for axes in axis_lists:
                    for keep in (False, True):
                        cases.append({"op": op, "name": f"{name} axes={axes} keep={keep}", "x": tensor(x),
                                      "axes": axes, "keep_dims": keep, "out": out32(ref(f64(x), tuple(axes), keep))})
            empty = np.zeros((3, 0), F32)
            for axes in ([0], [1], [0, 1]):
                cases.append({"op": op, "name": f"empty axes={axes}", "x": tensor(empty), "axes": axes,
                              "keep_dims": False, "out": out32(ref(f64(empty), tuple(axes), False))})
            big = normal((1000,), 10.0) + F32(1000)
            cases.append({"op": op, "name": "long lane", "x": tensor(big), "axes": [0], "keep_dims": False,
                          "out": out32(ref(f64(big), (0,), False))})
    ties = integers((3, 4, 5), 0, 3)
    for op, ref in (("argmax", np.argmax), ("argmin", np.argmin)):
        for axis in (0, 1, 2):
            cases.append({"op": op, "name": f"ties axis={axis}", "x": tensor(ties), "axis": axis,
                          "out": tensor(ref(ties, axis=axis))})
        x = np.array([[1.0, math.nan, 3.0, math.nan], [2.0, 2.0, -1.0, 0.0]], F32)
        cases.append({"op": op, "name": "nan", "x": tensor(x), "axis": 1, "out": tensor(ref(x, axis=1))})
        v = normal((7,))
        cases.append({"op": op, "name": "vector", "x": tensor(v), "axis": 0, "out": tensor(ref(v, axis=0))})
    return cases


# ---------------------------------------------------------------- softmax family


def log_softmax_ref(x, axis):
    x = f64(x)
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def softmax_cases():
    cases = []
    inputs = [
        ("random", normal((3, 5), 3.0)),
        ("large equal", np.array([1000, 1000, -1000], F32)),
        ("magnitude 1e4", np.array([[1e4, -1e4, 0.0], [1e4, 9999.0, -1e4], [-1e4, -1e4, -1e4]], F32)),
        ("rank 3", normal((2, 3, 4), 2.0)),
        ("single element lanes", normal((4, 1))),
    ]
    for name, x in inputs:
        for axis in range(x.ndim):
            lsm = log_softmax_ref(x, axis)
            cases.append({"op": "softmax", "name": f"{name} axis={axis}", "x": tensor(x), "axis": axis,
                          "out": out32(np.exp(lsm))})
            cases.append({"op": "log_softmax", "name": f"{name} axis={axis}", "x": tensor(x), "axis": axis,
                          "out": out32(lsm)})
            for keep in (False, True):
                m = np.max(f64(x), axis=axis, keepdims=True)
                lse = m + np.log(np.sum(np.exp(f64(x) - m), axis=axis, keepdims=True))
                lse = lse if keep else np.squeeze(lse, axis=axis)
                cases.append({"op": "logsumexp", "name": f"{name} axis={axis} keep={keep}", "x": tensor(x),
                              "axis": axis, "keep_dims": keep, "out": out32(lse)})
    return cases


# ---------------------------------------------------------------- losses


def loss_cases():
    cases = []
    for shape in ((4, 3), (), (7,), (2, 3, 2)):
        p, t = normal(shape), normal(shape)
        cases.append({"op": "mse", "name": f"{list(shape)}", "pred": tensor(p), "target": tensor(t),
                      "out": out32(np.mean((f64(p) - f64(t)) ** 2))})
    logit_sets = [
        ("random", normal((5, 4), 2.0)),
        ("magnitude 1e4", np.array([[1e4, -1e4, 0.0], [1e4, 9999.0, -1e4], [-1e4, -1e4, -1e4], [0.0, 0.0, 1e4]], F32)),
        ("one class", normal((3, 1))),
    ]
    for name, logits in logit_sets:
        n, c = logits.shape
        lsm = log_softmax_ref(logits, 1)
        raw = RNG.random((n, c)).astype(F32)
        probabilities = (raw / raw.sum(axis=1, keepdims=True)).astype(F32)
        indices = RNG.integers(0, c, n)
        one_hot = np.eye(c, dtype=F32)[indices]
        for label_name, labels in (("one-hot", one_hot), ("probabilities", probabilities)):
            per_example = -np.sum(f64(labels) * lsm, axis=1)
            cases.append({"op": "softmax_cross_entropy", "name": f"{name} {label_name}", "logits": tensor(logits),
                          "labels": tensor(labels), "out": out32(per_example), "mean": out32(np.mean(per_example))})
        per_example = -lsm[np.arange(n), indices]
        cases.append({"op": "softmax_cross_entropy_indices", "name": name, "logits": tensor(logits),
                      "labels": tensor(indices), "out": out32(per_example), "mean": out32(np.mean(per_example))})
    logits = normal((4, 3))
    labels = np.array([0, 2, 3, 5])
    cases.append({"op": "softmax_cross_entropy_indices", "name": "out of range", "logits": tensor(logits),
                  "labels": tensor(labels), "error": {"index": 3, "position": [2], "bound": 3}})
    for name, x in (("random", normal((3, 4), 3.0)), ("special", SPECIAL)):
        z = RNG.random(x.shape).astype(F32)
        z[::2] = np.round(z[::2])
        # -z·ln σ(x) − (1 − z)·ln(1 − σ(x)) with ln σ(x) = −ln(1 + e^−x).
        ref = f64(z) * np.logaddexp(0, -f64(x)) + (1 - f64(z)) * np.logaddexp(0, f64(x))
        cases.append({"op": "sigmoid_cross_entropy", "name": name, "logits": tensor(x), "labels": tensor(z),
                      "out": out32(ref)})
    return cases


# ---------------------------------------------------------------- movement


def movement_cases():
    cases = []
    x = normal((2, 3, 4))
    for axes in ([2, 0, 1], [1, 0, 2], [0, 1, 2], [2, 1, 0]):
        cases.append({"op": "permute", "name": f"{axes}", "x": tensor(x), "axes": axes,
                      "out": tensor(np.transpose(x, axes))})
    # Permutations that are batches of matrix transposes (NHWC to NCHW and
    # back, a plain transpose), with sides that are not multiples of 8.
    # Their own generator, so that the draws of the cases after them stay.
    local = np.random.default_rng(20261207)
    for shape, axes in (((2, 9, 10, 11), [0, 3, 1, 2]), ((2, 11, 9, 10), [0, 2, 3, 1]),
                        ((3, 17), [1, 0])):
        y = local.standard_normal(shape).astype(F32)
        cases.append({"op": "permute", "name": f"{list(shape)} by {axes}", "x": tensor(y),
                      "axes": axes, "out": tensor(np.transpose(y, axes))})
    for shape in ((2, 3), (2, 3, 4), (5,)):
        y = normal(shape)
        cases.append({"op": "transpose", "name": f"{list(shape)}", "x": tensor(y), "out": tensor(y.T)})
    for shape in ([4, 6], [24], [2, 12, 1], [1, 2, 3, 4]):
        cases.append({"op": "reshape", "name": f"to {shape}", "x": tensor(x), "shape": shape,
                      "out": tensor(x.reshape(shape))})
    for axis in (0, 1, 2):
        parts = []
        for size in (1, 0, 3):
            shape = list(x.shape)
            shape[axis] = size
            parts.append(normal(shape))
        cases.append({"op": "concat", "name": f"axis={axis}", "parts": [tensor(p) for p in parts], "axis": axis,
                      "out": tensor(np.concatenate(parts, axis=axis))})
    for axis, start, end in ((0, 1, 2), (1, 0, 3), (2, 1, 3), (2, 2, 2), (1, 3, 3)):
        index = [slice(None)] * 3
        index[axis] = slice(start, end)
        cases.append({"op": "slice", "name": f"axis={axis} {start}..{end}", "x": tensor(x), "axis": axis,
                      "start": start, "end": end, "out": tensor(x[tuple(index)])})
    for source, shape in (((3, 1), [2, 3, 4]), ((), [2, 2]), ((4,), [3, 4]), ((2, 1, 1), [2, 3, 1]), ((2,), [2])):
        y = normal(source)
        cases.append({"op": "broadcast_to", "name": f"{list(source)} to {shape}", "x": tensor(y), "shape": shape,
                      "out": tensor(np.broadcast_to(y, shape))})
    for axis in (0, 1, 3):
        cases.append({"op": "expand_dims", "name": f"axis={axis}", "x": tensor(x), "axis": axis,
                      "out": tensor(np.expand_dims(x, axis))})
    y = normal((1, 3, 1, 2, 1))
    for axes in ([0], [0, 2], [4, 0, 2], []):
        cases.append({"op": "squeeze", "name": f"{axes}", "x": tensor(y), "axes": axes,
                      "out": tensor(np.squeeze(y, axis=tuple(axes)))})
    cases.extend(pad_cases())
    return cases


# Drawn from a generator of their own, so that adding them left every other
# fixture's draws unchanged.
PAD_RNG = np.random.default_rng(20261207)


def pad_cases():
    """np.pad(x, paddings, constant_values=value), as `pad` and `tf.pad`."""
    cases = []
    lowest = float(np.finfo(F32).min)  # -3.4028235e38, the fill of max-pooling pads
    for name, shape, paddings, value in (
        ("nhwc same", (2, 3, 3, 2), [[0, 0], [1, 1], [1, 1], [0, 0]], 0.0),
        ("nhwc max-pool", (2, 3, 3, 2), [[0, 0], [0, 1], [1, 0], [0, 0]], lowest),
        ("rank 3", (2, 3, 4), [[1, 0], [0, 2], [3, 1]], 1.5),
        ("rank 1", (5,), [[2, 3]], -1.0),
        ("around empty", (0, 3), [[1, 1], [0, 0]], 2.0),
        ("nothing", (2, 2), [[0, 0], [0, 0]], 7.0),
        ("scalar", (), [], 9.0),
    ):
        x = (PAD_RNG.standard_normal(shape)).astype(F32)
        # np.pad rejects the empty list of a scalar, which it leaves as it is.
        out = np.pad(x, paddings, mode="constant", constant_values=F32(value)) if shape else x.copy()
        assert out.dtype == F32
        cases.append({"op": "pad", "name": name, "x": tensor(x), "paddings": paddings, "value": value,
                      "out": tensor(out)})
    return cases


# ---------------------------------------------------------------- conv and pools


def output_and_padding(size, kernel, stride, dilation, padding):
    """TensorFlow's rule: see the table in graph-runtime's conv.rs."""
    extent = (kernel - 1) * dilation + 1
    if padding == "valid":
        return max(0, (size - extent) // stride + 1), 0
    out = -(-size // stride)
    total = max((out - 1) * stride + extent - size, 0) if out > 0 else 0
    return out, total // 2


def conv2d_ref(x, w, strides, padding, dilations):
    n, h, wd, _ = x.shape
    kh, kw, _, co = w.shape
    oh, top = output_and_padding(h, kh, strides[0], dilations[0], padding)
    ow, left = output_and_padding(wd, kw, strides[1], dilations[1], padding)
    x, w = f64(x), f64(w)
    out = np.zeros((n, oh, ow, co))
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for i in range(kh):
                    for j in range(kw):
                        y = oy * strides[0] + i * dilations[0] - top
                        z = ox * strides[1] + j * dilations[1] - left
                        if 0 <= y < h and 0 <= z < wd:
                            out[b, oy, ox, :] += x[b, y, z, :] @ w[i, j]
    return out


def pool_ref(x, window, strides, padding, reducer):
    n, h, wd, c = x.shape
    oh, top = output_and_padding(h, window[0], strides[0], 1, padding)
    ow, left = output_and_padding(wd, window[1], strides[1], 1, padding)
    out = np.zeros((n, oh, ow, c))
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                # Only positions inside the input take part: TF's max ignores
                # padding and its average divides by the count of real ones.
                ys = [y for y in range(oy * strides[0] - top, oy * strides[0] - top + window[0]) if 0 <= y < h]
                zs = [z for z in range(ox * strides[1] - left, ox * strides[1] - left + window[1]) if 0 <= z < wd]
                block = f64(x)[b][np.ix_(ys, zs)].reshape(-1, c)
                out[b, oy, ox, :] = reducer(block, axis=0)
    return out


def check_references_by_hand():
    # Same tiny cases as the hand-worked unit tests in conv.rs.
    image = np.arange(1, 10, dtype=F32).reshape(1, 3, 3, 1)
    flt = np.array([1, 0, 0, -1], F32).reshape(2, 2, 1, 1)
    got = conv2d_ref(image, flt, (2, 2), "same", (1, 1)).ravel().tolist()
    assert got == [-4, 3, 7, 9], got
    image = np.arange(16, dtype=F32).reshape(1, 4, 4, 1)
    assert pool_ref(image, (3, 3), (2, 2), "same", np.max).ravel().tolist() == [10, 11, 14, 15]
    assert pool_ref(image, (3, 3), (2, 2), "same", np.mean).ravel().tolist() == [5, 6.5, 11, 12.5]
    # Dilation 2, VALID: a 2x2 filter of ones on a 3x3 image picks the corners.
    ones = np.ones((2, 2, 1, 1), F32)
    image = np.arange(1, 10, dtype=F32).reshape(1, 3, 3, 1)
    assert conv2d_ref(image, ones, (1, 1), "valid", (2, 2)).ravel().tolist() == [1 + 3 + 7 + 9]
    # The size rule against TensorFlow's documented examples.
    assert output_and_padding(5, 4, 1, 1, "same") == (5, 1)  # total 3: 1 before, 2 after
    assert output_and_padding(7, 4, 2, 1, "same") == (4, 1)  # total 3
    assert output_and_padding(6, 2, 2, 1, "same") == (3, 0)


def conv_cases():
    check_references_by_hand()
    cases = []
    # (batch, height, width, in, out, kh, kw, strides, padding, dilations)
    configs = [
        (1, 5, 5, 1, 1, 3, 3, (1, 1), "valid", (1, 1)),
        (2, 5, 6, 3, 4, 3, 3, (1, 1), "same", (1, 1)),
        (1, 6, 6, 2, 3, 2, 2, (2, 2), "same", (1, 1)),
        (1, 7, 7, 2, 2, 4, 4, (2, 2), "same", (1, 1)),
        (1, 5, 5, 2, 2, 2, 2, (1, 1), "same", (1, 1)),
        (1, 8, 8, 1, 2, 4, 4, (1, 1), "same", (1, 1)),
        (1, 7, 8, 2, 3, 3, 3, (1, 1), "same", (2, 2)),
        (1, 9, 9, 1, 2, 3, 3, (2, 2), "valid", (2, 2)),
        (1, 6, 7, 2, 2, 3, 2, (2, 3), "same", (1, 2)),
        (2, 4, 4, 3, 2, 1, 1, (2, 2), "valid", (1, 1)),
        (1, 2, 2, 1, 1, 3, 3, (1, 1), "valid", (1, 1)),
        (1, 3, 3, 2, 1, 5, 5, (1, 1), "same", (1, 1)),
    ]
    for n, h, w, ci, co, kh, kw, strides, padding, dilations in configs:
        x, f = normal((n, h, w, ci)), normal((kh, kw, ci, co))
        cases.append({"op": "conv2d", "name": f"{[n, h, w, ci]} * {[kh, kw, ci, co]} s={strides} {padding} d={dilations}",
                      "input": tensor(x), "filter": tensor(f), "strides": list(strides), "padding": padding,
                      "dilations": list(dilations), "out": out32(conv2d_ref(x, f, strides, padding, dilations))})
    # (batch, height, width, channels, window, strides, padding)
    pools = [
        (1, 5, 5, 1, (2, 2), (2, 2), "same"),
        (2, 5, 5, 3, (3, 3), (1, 1), "same"),
        (1, 7, 7, 2, (3, 3), (2, 2), "valid"),
        (1, 4, 6, 2, (2, 2), (1, 1), "same"),
        (1, 7, 7, 1, (4, 4), (2, 2), "same"),
        (1, 3, 7, 2, (1, 3), (1, 2), "same"),
        (1, 4, 4, 1, (2, 2), (3, 3), "same"),
    ]
    for op, reducer in (("max_pool2d", np.max), ("avg_pool2d", np.mean)):
        for n, h, w, c, window, strides, padding in pools:
            x = normal((n, h, w, c))
            cases.append({"op": op, "name": f"{[n, h, w, c]} k={window} s={strides} {padding}", "input": tensor(x),
                          "window": list(window), "strides": list(strides), "padding": padding,
                          "out": out32(pool_ref(x, window, strides, padding, reducer))})
    return cases


# ---------------------------------------------------------------- norms, gather, batched matmul


def norm_cases():
    cases = []
    for shape, eps in (((2, 3, 4), 1e-3), ((5, 3), 1e-5), ((6,), 0.5)):
        c = shape[-1]
        x = normal(shape, 2.0) + F32(1)
        mean, var = normal((c,)), uniform((c,), 0.5, 2.0)
        scale, offset = normal((c,)), normal((c,))
        ref = (f64(x) - f64(mean)) / np.sqrt(f64(var) + f64(F32(eps))) * f64(scale) + f64(offset)
        cases.append({"op": "batch_norm", "name": f"{list(shape)}", "x": tensor(x), "mean": tensor(mean),
                      "variance": tensor(var), "scale": tensor(scale), "offset": tensor(offset), "epsilon": eps,
                      "out": out32(ref)})
    for shape, eps in (((2, 3, 8), 1e-5), ((4, 5), 1e-3), ((3, 1), 1e-5)):
        x = normal(shape, 3.0) + F32(5)
        gamma, beta = normal((shape[-1],)), normal((shape[-1],))
        mu = f64(x).mean(axis=-1, keepdims=True)
        var = ((f64(x) - mu) ** 2).mean(axis=-1, keepdims=True)
        ref = (f64(x) - mu) / np.sqrt(var + f64(F32(eps))) * f64(gamma) + f64(beta)
        cases.append({"op": "layer_norm", "name": f"{list(shape)}", "x": tensor(x), "gamma": tensor(gamma),
                      "beta": tensor(beta), "epsilon": eps, "out": out32(ref)})
    return cases


def gather_cases():
    cases = []
    table = normal((6, 3))
    for shape in ((4,), (2, 3), (), (0,)):
        ids = RNG.integers(0, 6, shape)
        cases.append({"op": "gather", "name": f"table [6, 3], ids {list(shape)}", "params": tensor(table),
                      "indices": tensor(ids), "out": tensor(table[ids])})
    cube = normal((5, 2, 2))
    ids = RNG.integers(0, 5, (3, 2))
    cases.append({"op": "gather", "name": "params [5, 2, 2], ids [3, 2]", "params": tensor(cube),
                  "indices": tensor(ids), "out": tensor(cube[ids])})
    ids = np.array([[1, 0], [6, 7]])
    cases.append({"op": "gather", "name": "out of range", "params": tensor(table), "indices": tensor(ids),
                  "error": {"index": 6, "position": [1, 0], "bound": 6}})
    return cases


def batched_cases():
    cases = []
    for a_shape, b_shape in (((3, 2, 4), (3, 4, 5)), ((1, 2, 3), (4, 3, 2)), ((4, 2, 3), (1, 3, 2)), ((2, 0, 3), (2, 3, 2))):
        a, b = normal(a_shape), normal(b_shape)
        cases.append({"op": "batch_matmul", "name": f"{list(a_shape)} x {list(b_shape)}", "a": tensor(a),
                      "b": tensor(b), "out": out32(np.matmul(f64(a), f64(b)))})
    for a_shape, b_shape in (((3, 2, 4), (4, 5)), ((2, 5, 1), (1, 3))):
        a, b = normal(a_shape), normal(b_shape)
        cases.append({"op": "batch_matmul_shared", "name": f"{list(a_shape)} x {list(b_shape)}", "a": tensor(a),
                      "b": tensor(b), "out": out32(np.matmul(f64(a), f64(b)))})
    return cases


def main():
    write("unary", unary_cases())
    write("erf", erf_scalar_cases())
    write("binary", binary_cases())
    write("reduce", reduce_cases())
    write("softmax", softmax_cases())
    write("loss", loss_cases())
    write("movement", movement_cases())
    write("conv", conv_cases())
    write("norm", norm_cases())
    write("gather", gather_cases())
    write("batched", batched_cases())


if __name__ == "__main__":
    main()
