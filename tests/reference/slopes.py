#!/usr/bin/env python3
"""Reference derivatives for graph-runtime's `scalar::*_slope` functions,
computed with JAX's automatic differentiation in float64.

Writes fixtures/kernels/slopes.json beside this script, in the format of
kernels.py (whose encoding helpers it reuses): {"cases": [...]}, one case per
line, each naming its `op` (the Rust function, `relu_slope`), a
human-readable `name`, its float parameters (`p`, `alpha`, `beta`, `lo`,
`hi`), the inputs `x` and the expected slopes `out`, tensors as
{"shape": [n], "data": [...]}. graph-runtime/tests/slopes.rs reads it (std),
and so does graph-runtime/src/scalar/slope_reference_tests.rs (also without
std, on libm). The fixture is committed, so the Rust tests need no Python:
rerun this script (`pip install jax numpy`, CPU is enough) after changing a
case, and review the JSON diff.

Conventions:
- Every input and parameter is a float32, stored exactly; JAX differentiates
  the float64 function at those values (jax_enable_x64), and each slope is
  rounded once to float32.
- The grid is fixed: zero of both signs, subnormal to huge magnitudes of
  both signs (up to 3.4e38), the range where float32 exponentials underflow
  (87 to 110), an even spread over [-7.3, 7.3], NaN and both infinities, and
  each case's own kinks (clip's bounds, hard_sigmoid's corners).
- The slope at a kink is what `jax.grad` returns there, of the `jax.nn` or
  `jax.numpy` function that the Rust forward function matches; at NaN and
  the infinities too, so the Rust test can list where it deliberately
  differs (docs/NUMERICS.md).
- Four references rewrite the function before differentiating it, because
  JAX's float64 rule cancels where float32 still has precision (checked
  equal to the plain rule elsewhere in `check_rewrites`):
  sigmoid' is even and differentiated at -|x| (JAX's rule s·(1 - s) cancels
  for large positive x); tanh(x) = 2·sigmoid(2x) - 1, differentiated at
  -|x| (1 - tanh² cancels beyond |x| ≈ 10); gelu's tanh form is
  differentiated as x·sigmoid(2u) (1 + tanh(u) cancels below x ≈ -6).
  And elu's expm1 becomes exp - 1, whose derivative JAX does not compute
  as expm1(x) + 1 (which cancels for x < -20).
- hard_sigmoid(x, a, b) is differentiated as relu6(6·(a·x + b)) / 6, which
  is jax.nn.hard_sigmoid = relu6(x + 3) / 6 for a = 1/6, b = 1/2, with JAX's
  relu6 rule (gradient 0 at both corners) for any a and b.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

import kernels
from kernels import F32, out32, tensor

jax.config.update("jax_enable_x64", True)

MAGNITUDES = [
    1e-45, 1e-38, 1e-20, 1e-7, 1e-3, 0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5,
    10.0, 15.0, 20.0, 30.0, 44.0, 50.0, 87.0, 88.7, 89.0, 100.0, 104.0, 110.0, 1e3, 1e4, 1e10, 1e30, 3.4e38,
]


def grid(extra=()):
    """The fixed inputs, then `extra` (a case's kinks), as float32."""
    magnitudes = np.array(MAGNITUDES, dtype=F32)
    return np.concatenate([-magnitudes[::-1], np.array([-0.0, 0.0], F32), magnitudes,
                           np.linspace(-7.3, 7.3, 41).astype(F32),
                           np.array([math.nan, math.inf, -math.inf], F32),
                           np.array(extra, dtype=F32)])


def slope(f, x, at=None):
    """jax.grad of f, elementwise over the float32 inputs x, in float64;
    evaluated at `at(x)` instead of x when given."""
    x = np.asarray(x, dtype=np.float64)
    points = x if at is None else at(x)
    return np.asarray(jax.vmap(jax.grad(f))(jnp.asarray(points, dtype=jnp.float64)))


def minus_abs(x):
    return -np.abs(x)


def gelu_tanh_as_sigmoid(x):
    # The Rust forward form: x·σ(2u), the same function as jax.nn.gelu's
    # 0.5·x·(1 + tanh(u)).
    u = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
    return x * jax.nn.sigmoid(2 * u)


def elu_with_exp(x, alpha):
    # jax.nn.elu with expm1(x) written exp(x) - 1: the same function, but
    # JAX differentiates expm1 as expm1(x) + 1, which cancels for x < -20.
    return jnp.where(x > 0, x, alpha * (jnp.exp(jnp.where(x > 0, 0.0, x)) - 1))


def tanh_as_sigmoid(x):
    return 2 * jax.nn.sigmoid(2 * x) - 1


def param(v):
    """A parameter as the float32 the Rust code receives, stored exactly."""
    return float(F32(v))


# Each op: the function of x (and parameters) JAX differentiates, the point
# transform (None, or minus_abs for even slopes), and the parameter sets.
PLAIN = {
    "neg_slope": (jnp.negative, None),
    "abs_slope": (jnp.abs, None),
    "exp_slope": (jnp.exp, None),
    "log_slope": (jnp.log, None),
    "sqrt_slope": (jnp.sqrt, None),
    "square_slope": (jnp.square, None),
    "relu_slope": (jax.nn.relu, None),
    "sigmoid_slope": (jax.nn.sigmoid, minus_abs),
    "tanh_slope": (tanh_as_sigmoid, minus_abs),
    "gelu_tanh_slope": (gelu_tanh_as_sigmoid, None),
    "gelu_exact_slope": (lambda x: jax.nn.gelu(x, approximate=False), None),
    "softplus_slope": (jax.nn.softplus, None),
    "silu_slope": (jax.nn.silu, None),
}

POWERS = [2.0, 3.0, 0.5, 1.5, 1.0, 0.0, -1.0, -0.5]
LEAKS = [0.01, 0.2, 1.5]
ELU_ALPHAS = [1.0, 0.5, 2.0]
# (lo, hi): ReLU6, a symmetric band, non-dyadic bounds, a single point, and
# crossed bounds (the constant hi).
CLIPS = [(0.0, 6.0), (-1.0, 1.0), (-2.3, 0.7), (1.0, 1.0), (2.0, -1.0)]
# (alpha, beta): ONNX's and Keras 2's default, PyTorch's (jax.nn's), exact
# corners at ±2, a plain clip to [0, 1], and a decreasing one.
HARD_SIGMOIDS = [(0.2, 0.5), (1 / 6, 0.5), (0.25, 0.5), (1.0, 0.0), (-0.5, 0.5)]


def hard_sigmoid_corners(a, b):
    """The float32 inputs nearest to where a·x + b is 0 and 1."""
    return [F32(-b / a), F32((1 - b) / a)]


def check_corners_are_not_ambiguous(x, a, b):
    """At every finite input, float32's a·x + b (as the Rust forward function
    rounds it) and float64's lie on the same side of each corner, so the
    float64 reference decides nothing that float32 rounding decides
    otherwise."""
    x = x[np.isfinite(x)]
    t32 = (F32(a) * x.astype(F32)).astype(F32) + F32(b)
    t64 = np.float64(a) * x.astype(np.float64) + np.float64(b)
    inside32 = (t32 > 0) & (t32 < 1)
    inside64 = (t64 > 0) & (t64 < 1)
    assert (inside32 == inside64).all(), (a, b, x[inside32 != inside64])


def cases():
    found = []
    for op, (f, at) in PLAIN.items():
        x = grid()
        found.append({"op": op, "name": "grid", "x": tensor(x), "out": out32(slope(f, x, at))})
    for p in POWERS:
        p = param(p)
        x = grid()
        found.append({"op": "pow_slope", "name": f"grid p={p}", "p": p, "x": tensor(x),
                      "out": out32(slope(lambda v: jax.lax.pow(v, jnp.float64(p)), x))})
    for alpha in LEAKS:
        a = param(alpha)
        x = grid()
        found.append({"op": "leaky_relu_slope", "name": f"grid alpha={alpha}", "alpha": a, "x": tensor(x),
                      "out": out32(slope(lambda v: jax.nn.leaky_relu(v, a), x))})
    for alpha in ELU_ALPHAS:
        a = param(alpha)
        x = grid()
        found.append({"op": "elu_slope", "name": f"grid alpha={alpha}", "alpha": a, "x": tensor(x),
                      "out": out32(slope(lambda v: elu_with_exp(v, a), x))})
    for lo, hi in CLIPS:
        lo, hi = param(lo), param(hi)
        x = grid([lo, hi])
        found.append({"op": "clip_slope", "name": f"grid lo={lo} hi={hi}", "lo": lo, "hi": hi, "x": tensor(x),
                      "out": out32(slope(lambda v: jnp.clip(v, lo, hi), x))})
    for alpha, beta in HARD_SIGMOIDS:
        a, b = param(alpha), param(beta)
        x = grid(hard_sigmoid_corners(a, b))
        check_corners_are_not_ambiguous(x, a, b)
        found.append({"op": "hard_sigmoid_slope", "name": f"grid alpha={a} beta={b}", "alpha": a, "beta": b,
                      "x": tensor(x), "out": out32(slope(lambda v: jax.nn.relu6(6 * (a * v + b)) / 6, x))})
    return found


def check_rewrites():
    """The rewritten references against JAX's plain rules where float64 does
    not cancel, and against closed forms evaluated with Python's math."""
    x = np.linspace(-9.0, 9.0, 721)
    near = np.abs(x) <= 3
    assert np.allclose(slope(jax.nn.sigmoid, x), slope(jax.nn.sigmoid, x, minus_abs), rtol=0, atol=3e-16)
    assert np.allclose(slope(jnp.tanh, x), slope(tanh_as_sigmoid, x, minus_abs), rtol=0, atol=1e-15)
    for alpha in (0.5, 1.0, 2.0):
        plain_elu = slope(lambda v: jax.nn.elu(v, alpha), x)
        assert np.allclose(plain_elu, slope(lambda v: elu_with_exp(v, alpha), x), rtol=0, atol=1e-15)
        assert slope(lambda v: elu_with_exp(v, alpha), [0.0])[0] == alpha
    assert math.isclose(slope(lambda v: elu_with_exp(v, 1.0), [-30.0])[0], math.exp(-30.0), rel_tol=1e-15)
    plain_gelu = slope(jax.nn.gelu, x[near])
    assert np.allclose(plain_gelu, slope(gelu_tanh_as_sigmoid, x[near]), rtol=0, atol=2e-15)
    # Closed forms in the tails the rewrites are for.
    for v in (-30.0, -8.0, 12.0, 40.0):
        e = math.exp(-abs(v))
        assert math.isclose(slope(jax.nn.sigmoid, [v], minus_abs)[0], e / (1 + e) ** 2, rel_tol=1e-14)
        e2 = math.exp(-2 * abs(v))
        assert math.isclose(slope(tanh_as_sigmoid, [v], minus_abs)[0], 4 * e2 / (1 + e2) ** 2, rel_tol=1e-14)
    v = -7.0
    u = math.sqrt(2 / math.pi) * (v + 0.044715 * v**3)
    du = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * v**2)
    s = 1 / (1 + math.exp(-2 * u))
    expected = s + 2 * v * du * s * (1 - s)
    assert math.isclose(slope(gelu_tanh_as_sigmoid, [v])[0], expected, rel_tol=1e-12)
    for v in (-8.0, -1.0, 0.5, 3.0):
        cdf = 0.5 * math.erfc(-v / math.sqrt(2))
        pdf = math.exp(-v * v / 2) / math.sqrt(2 * math.pi)
        got = slope(lambda t: jax.nn.gelu(t, approximate=False), [v])[0]
        assert math.isclose(got, cdf + v * pdf, rel_tol=1e-12), (v, got, cdf + v * pdf)


def check_by_hand():
    """The kink values the Rust docs state, straight from jax.grad."""
    def grad(f, v):
        return float(jax.grad(f)(jnp.float64(v)))

    assert [grad(jax.nn.relu, v) for v in (0.0, -0.0)] == [0.0, 0.0]
    assert [grad(lambda t: jax.nn.leaky_relu(t, 0.1), v) for v in (0.0, -0.0)] == [1.0, 1.0]
    assert [grad(jnp.abs, v) for v in (0.0, -0.0)] == [1.0, 1.0]
    assert [grad(lambda t: jnp.clip(t, -1.0, 2.0), v) for v in (-1.0, 2.0)] == [0.5, 0.5]
    assert grad(lambda t: jnp.clip(t, 1.0, 1.0), 1.0) == 0.25
    assert [grad(lambda t: jnp.clip(t, 2.0, -1.0), v) for v in (-1.0, 0.5, 2.0)] == [0.0, 0.0, 0.0]
    assert [grad(jax.nn.hard_sigmoid, v) for v in (-3.0, 3.0)] == [0.0, 0.0]
    assert grad(jax.nn.hard_sigmoid, 0.0) == 1 / 6
    assert [grad(lambda t: jax.nn.elu(t, 2.0), v) for v in (0.0, -0.0)] == [2.0, 2.0]
    assert math.isnan(grad(lambda t: jax.lax.pow(t, 0.0), 0.0))
    assert grad(lambda t: jax.lax.pow(t, 1.0), math.nan) == 1.0


def main():
    check_by_hand()
    check_rewrites()
    kernels.write("slopes", cases())


if __name__ == "__main__":
    main()
