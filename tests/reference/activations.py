#!/usr/bin/env python3
"""Reference values for graph-runtime's silu, elu and hard_sigmoid, computed
with numpy.

Writes fixtures/kernels/activations.json beside this script, in the format of
kernels.py (whose encoding helpers it reuses): {"cases": [...]}, each case
naming its `op`, a human-readable `name`, its float parameters, the input `x`
and the expected `out`, tensors as {"shape": [...], "data": [...]} in
row-major order. graph-runtime/tests/activations.rs reads it (std), and so
does graph-runtime/src/flat/reference_tests.rs (also without std, on libm).
The fixture is committed, so the Rust tests need no Python: rerun this
script (numpy only, `pip install numpy`) after changing a case, and review
the JSON diff.

Conventions, as in kernels.py:
- Every input is a float32, stored exactly. The grid is fixed: zero of both
  signs, subnormal and tiny magnitudes, the kinks of hard_sigmoid, the range
  where sigmoid underflows (about -87 to -104), huge magnitudes up to 3.4e38,
  and an even spread over [-7.3, 7.3].
- Parameters are float32 too (alpha = 1/6 is the float32 nearest 1/6), and
  the references use exactly those float32 values.
- References are computed in float64 by formulas chosen independently of the
  Rust code where a choice exists, then rounded once to float32.
"""

import numpy as np

import kernels
from kernels import F32, f64, out32, tensor

# The dense tests feed the grid as a matrix of this many columns through an
# identity weight matrix: odd, so the 8-lane SIMD kernels have a tail.
COLUMNS = 19

MAGNITUDES = [
    1e-45, 1e-40, 1e-38, 1e-30, 1e-20, 1e-10, 1e-7, 1e-5, 1e-3, 0.01, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0,
    2.4999, 2.5, 2.5001, 2.9999, 3.0, 3.0001, 4.0, 5.0, 7.5, 10.0, 15.0, 17.0, 20.0, 30.0, 50.0, 87.0, 87.5,
    88.0, 88.7, 89.0, 90.0, 95.0, 100.0, 103.0, 104.0, 110.0, 1e3, 1e4, 1e10, 1e30, 3.4e38,
]


def grid():
    """The fixed inputs as a [rows, COLUMNS] float32 matrix."""
    magnitudes = np.array(MAGNITUDES, dtype=F32)
    values = np.concatenate([-magnitudes[::-1], np.array([-0.0, 0.0], F32), magnitudes,
                             np.linspace(-7.3, 7.3, 57).astype(F32)])
    # Fill the last row with more of the spread, still fixed.
    missing = -len(values) % COLUMNS
    values = np.concatenate([values, np.linspace(-3.7, 3.7, missing + 2)[1:-1].astype(F32)])
    return values.reshape(-1, COLUMNS)


def silu_ref(x):
    # x / (1 + e^-x): another formula than the Rust x·σ(x). Below -709 the
    # f64 exponential overflows to inf and the quotient is -0, which is also
    # the float32 rounding of the true value there.
    x = f64(x)
    with np.errstate(over="ignore"):
        return x / (1 + np.exp(-x))


def elu_ref(x, alpha):
    x = f64(x)
    return np.where(x > 0, x, f64(alpha) * np.expm1(np.minimum(x, 0)))


def hard_sigmoid_ref(x, alpha, beta):
    # The float64 product of two float32 is exact; the sum rounds only in
    # float64.
    return np.minimum(np.maximum(f64(alpha) * f64(x) + f64(beta), 0.0), 1.0)


def param(v):
    """A parameter as the float32 the Rust code receives, stored exactly."""
    return float(F32(v))


def cases():
    x = grid()
    found = [{"op": "silu", "name": "grid", "x": tensor(x), "out": out32(silu_ref(x))}]
    for alpha in (0.5, 1.0, 2.0):
        a = param(alpha)
        found.append({"op": "elu", "name": f"grid alpha={alpha}", "alpha": a, "x": tensor(x),
                      "out": out32(elu_ref(x, a))})
    # ONNX's and Keras 2's defaults, PyTorch's, a plain clip to [0, 1], a
    # non-dyadic pair and a decreasing one.
    for label, alpha, beta in (("onnx alpha=0.2 beta=0.5", 0.2, 0.5), ("pytorch alpha=1/6 beta=0.5", 1 / 6, 0.5),
                               ("clip alpha=1 beta=0", 1.0, 0.0), ("alpha=0.1 beta=0.3", 0.1, 0.3),
                               ("decreasing alpha=-0.5 beta=0.5", -0.5, 0.5)):
        a, b = param(alpha), param(beta)
        found.append({"op": "hard_sigmoid", "name": f"grid {label}", "alpha": a, "beta": b, "x": tensor(x),
                      "out": out32(hard_sigmoid_ref(x, a, b))})
    return found


def check_by_hand():
    """The references at points whose values are known exactly."""
    assert silu_ref(np.array([0.0]))[0] == 0.0
    assert abs(silu_ref(np.array([1.0]))[0] - 0.7310585786300049) < 1e-16
    assert silu_ref(np.array([-1e4]))[0] == 0.0
    assert elu_ref(np.array([-1e4, 2.0]), 1.5).tolist() == [-1.5, 2.0]
    # e^x − 1 = x + x²/2 + … without cancellation.
    assert abs(elu_ref(np.array([-1e-10]), 1.0)[0] - (-1e-10 + 5e-21)) < 1e-30
    assert hard_sigmoid_ref(np.array([-3.0, 0.0, 2.0, 3.0]), 0.25, 0.5).tolist() == [0.0, 0.5, 1.0, 1.0]


def main():
    check_by_hand()
    kernels.write("activations", cases())


if __name__ == "__main__":
    main()
