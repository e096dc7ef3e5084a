#!/usr/bin/env python3
"""Reference values for graph-runtime's neural-network gradients, computed
with JAX in float64.

Writes fixtures/kernels/nn_grads.json beside this script, in the format of
kernels.py (whose encoding helpers it reuses): {"cases": [...]}, each case
naming its `op`, a human-readable `name`, its parameters and tensors as
{"shape": [...], "data": [...]} in row-major order.
graph-runtime/tests/nn_grads.rs reads it, for both the ndarray kernels and
the `flat` slice kernels. The fixture is committed, so the Rust tests need no
Python: rerun this script (`pip install numpy jax`) after changing a case,
and review the JSON diff.

Every case holds the forward output and the vector-Jacobian products
(`jax.vjp`) of a random cotangent `grad`:

- conv2d: `jax.lax.conv_general_dilated` with NHWC/HWIO/NHWC dimension
  numbers, explicit TensorFlow SAME/VALID padding pairs (checked against
  JAX's own "SAME"), window strides and rhs (filter) dilation; VJPs with
  respect to the input and the filter.
- max_pool2d / avg_pool2d: `jax.lax.reduce_window` with max (padding is
  -inf, so it never wins) and with add divided by the count of positions
  inside the input (a reduce_window of ones padded with zeros): TensorFlow's
  conventions. The max-pool VJP is checked against an explicit numpy
  routing to the first maximum in row-major window order, including cases
  with integer-valued inputs, where ties occur.
- layer_norm and batch_norm_train: the formulas over the last axis, with
  the biased variance (per row, and per feature over all other axes); VJPs
  with respect to x (through the statistics) and the affine parameters, and
  the normalised input x̂.

Inputs are float32 from a seeded generator, stored exactly; references are
computed in float64 from them and rounded once to float32.
"""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

import kernels  # noqa: E402
from kernels import F32, f64, out32, tensor  # noqa: E402

RNG = np.random.default_rng(20250301)


def normal(shape, scale=1.0, shift=0.0):
    return (RNG.standard_normal(shape) * scale + shift).astype(F32)


def integers(shape, lo, hi):
    return RNG.integers(lo, hi, shape).astype(F32)


def pads(size, kernel, stride, dilation, padding):
    """TensorFlow's rule (graph-runtime's conv.rs): (output, (before, after))."""
    extent = (kernel - 1) * dilation + 1
    if padding == "valid":
        return max(0, (size - extent) // stride + 1), (0, 0)
    out = -(-size // stride)
    total = max((out - 1) * stride + extent - size, 0) if out > 0 else 0
    return out, (total // 2, total - total // 2)


# ---------------------------------------------------------------- convolution


def conv2d(x, w, strides, padding, dilations):
    _, h, wd, _ = x.shape
    kh, kw = w.shape[:2]
    _, rows = pads(h, kh, strides[0], dilations[0], padding)
    _, cols = pads(wd, kw, strides[1], dilations[1], padding)
    return lax.conv_general_dilated(
        x, w, window_strides=strides, padding=[rows, cols], rhs_dilation=dilations,
        dimension_numbers=("NHWC", "HWIO", "NHWC"), precision=lax.Precision.HIGHEST)


def check_conv_padding():
    # Our explicit pairs are JAX's own SAME (the same rule as TensorFlow's).
    x, w = jnp.ones((1, 7, 6, 1)), jnp.ones((4, 3, 1, 1))
    for strides, dilations in (((1, 1), (1, 1)), ((2, 3), (1, 1)), ((2, 1), (2, 2))):
        ours = conv2d(x, w, strides, "same", dilations)
        theirs = lax.conv_general_dilated(x, w, strides, "SAME", rhs_dilation=dilations,
                                          dimension_numbers=("NHWC", "HWIO", "NHWC"))
        assert np.array_equal(np.asarray(ours), np.asarray(theirs)), (strides, dilations)
    # A hand-worked case: 3x3 image 1..9, 2x2 filter [[1, 0], [0, -1]],
    # stride 2, SAME (padding (0, 1)): as conv.rs's unit test.
    image = jnp.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    flt = jnp.array([1.0, 0.0, 0.0, -1.0]).reshape(2, 2, 1, 1)
    assert np.asarray(conv2d(image, flt, (2, 2), "same", (1, 1))).ravel().tolist() == [-4, 3, 7, 9]


def conv_cases():
    check_conv_padding()
    cases = []
    # (batch, height, width, in, out, kh, kw, strides, padding, dilations)
    configs = [
        (1, 5, 5, 1, 1, 3, 3, (1, 1), "valid", (1, 1)),
        (3, 7, 6, 2, 3, 3, 3, (1, 1), "same", (1, 1)),
        (1, 7, 7, 2, 2, 3, 3, (2, 2), "same", (1, 1)),
        (3, 8, 7, 3, 2, 2, 2, (2, 2), "valid", (1, 1)),
        (1, 9, 8, 2, 3, 3, 3, (1, 1), "same", (2, 2)),
        (1, 9, 9, 1, 2, 3, 2, (2, 1), "valid", (2, 2)),
        (3, 6, 5, 2, 2, 4, 4, (2, 2), "same", (1, 1)),
        (1, 7, 7, 3, 4, 1, 1, (2, 2), "valid", (1, 1)),
        (1, 3, 3, 2, 1, 5, 5, (1, 1), "same", (1, 1)),
        (1, 8, 8, 1, 1, 3, 3, (3, 3), "valid", (1, 1)),
        (2, 6, 7, 4, 8, 3, 3, (1, 2), "same", (2, 1)),
        (1, 6, 7, 9, 10, 3, 3, (1, 1), "same", (1, 1)),
        (1, 2, 2, 1, 1, 3, 3, (1, 1), "valid", (1, 1)),
    ]
    for n, h, w, ci, co, kh, kw, strides, padding, dilations in configs:
        x, f = normal((n, h, w, ci)), normal((kh, kw, ci, co))
        oh, _ = pads(h, kh, strides[0], dilations[0], padding)
        ow, _ = pads(w, kw, strides[1], dilations[1], padding)
        g = normal((n, oh, ow, co))
        out, vjp = jax.vjp(lambda a, b: conv2d(a, b, strides, padding, dilations), f64(x), f64(f))
        assert out.shape == (n, oh, ow, co), (out.shape, (n, oh, ow, co))
        dx, df = vjp(f64(g))
        name = f"{[n, h, w, ci]} * {[kh, kw, ci, co]} s={strides} {padding} d={dilations}"
        cases.append({"op": "conv2d", "name": name, "input": tensor(x), "filter": tensor(f),
                      "strides": list(strides), "padding": padding, "dilations": list(dilations),
                      "grad": tensor(g), "out": out32(out), "input_grad": out32(dx), "filter_grad": out32(df)})
    return cases


# ---------------------------------------------------------------- pools


def pool_pads(x, window, strides, padding):
    _, h, w, _ = x.shape
    _, rows = pads(h, window[0], strides[0], 1, padding)
    _, cols = pads(w, window[1], strides[1], 1, padding)
    return [(0, 0), rows, cols, (0, 0)]


def max_pool(x, window, strides, padding):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, *window, 1), (1, *strides, 1),
                             pool_pads(x, window, strides, padding))


def avg_pool(x, window, strides, padding):
    padding = pool_pads(x, window, strides, padding)
    total = lax.reduce_window(x, 0.0, lax.add, (1, *window, 1), (1, *strides, 1), padding)
    count = lax.reduce_window(jnp.ones_like(x), 0.0, lax.add, (1, *window, 1), (1, *strides, 1), padding)
    return total / count


def first_max_routing(x, g, window, strides, padding):
    """Independent numpy reference for the max-pool VJP: each output's
    gradient to the first maximum of its window in row-major order."""
    n, h, w, c = x.shape
    oh, (top, _) = pads(h, window[0], strides[0], 1, padding)
    ow, (left, _) = pads(w, window[1], strides[1], 1, padding)
    dx = np.zeros(x.shape)
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for ch in range(c):
                    best = None
                    for i in range(window[0]):
                        for j in range(window[1]):
                            y, z = oy * strides[0] + i - top, ox * strides[1] + j - left
                            if 0 <= y < h and 0 <= z < w and (best is None or x[b, y, z, ch] > x[best + (ch,)]):
                                best = (b, y, z)
                    dx[best + (ch,)] += g[b, oy, ox, ch]
    return dx


def pool_cases():
    cases = []
    # (batch, height, width, channels, window, strides, padding, integer-valued)
    configs = [
        (1, 5, 5, 1, (2, 2), (2, 2), "same", False),
        (3, 5, 6, 3, (3, 3), (1, 1), "same", False),
        (1, 7, 7, 2, (3, 3), (2, 2), "valid", False),
        (3, 6, 5, 2, (2, 2), (1, 1), "valid", False),
        (1, 7, 8, 2, (3, 3), (2, 2), "same", False),
        (1, 4, 7, 2, (2, 3), (1, 2), "same", False),
        (1, 4, 4, 1, (2, 2), (3, 3), "same", False),
        (1, 6, 6, 2, (3, 3), (1, 1), "same", True),
        (3, 5, 5, 2, (2, 2), (2, 2), "valid", True),
        (1, 5, 7, 3, (3, 2), (2, 1), "same", True),
    ]
    for n, h, w, c, window, strides, padding, ties in configs:
        x = integers((n, h, w, c), -2, 3) if ties else normal((n, h, w, c))
        name = f"{[n, h, w, c]} k={window} s={strides} {padding}" + (" ties" if ties else "")
        params = {"window": list(window), "strides": list(strides), "padding": padding}
        out, vjp = jax.vjp(lambda a: max_pool(a, window, strides, padding), f64(x))
        g = normal(out.shape)
        (dx,) = vjp(f64(g))
        routed = first_max_routing(f64(x), f64(g), window, strides, padding)
        assert np.allclose(np.asarray(dx), routed, rtol=0, atol=1e-12), name
        cases.append({"op": "max_pool2d", "name": name, **params, "input": tensor(x), "grad": tensor(g),
                      "out": out32(out), "input_grad": out32(dx)})
        if ties:
            continue
        x = normal((n, h, w, c))
        out, vjp = jax.vjp(lambda a: avg_pool(a, window, strides, padding), f64(x))
        g = normal(out.shape)
        (dx,) = vjp(f64(g))
        cases.append({"op": "avg_pool2d", "name": name, **params, "input": tensor(x), "grad": tensor(g),
                      "out": out32(out), "input_grad": out32(dx)})
    return cases


# ---------------------------------------------------------------- norms


def normalized(x, axes, eps):
    mu = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.mean((x - mu) ** 2, axis=axes, keepdims=True)
    return (x - mu) / jnp.sqrt(var + eps)


def norm_cases():
    cases = []
    for shape, eps in (((4, 5), 1e-3), ((2, 3, 8), 1e-5), ((3, 1), 1e-5), ((2, 70), 1e-5), ((6,), 0.5)):
        x = normal(shape, 3.0, 5.0)
        gamma, beta = normal(shape[-1:]), normal(shape[-1:])
        g = normal(shape)
        e = f64(F32(eps))
        out, vjp = jax.vjp(lambda a, s, b: normalized(a, -1, e) * s + b, f64(x), f64(gamma), f64(beta))
        dx, dgamma, dbeta = vjp(f64(g))
        cases.append({"op": "layer_norm", "name": f"{list(shape)} eps={eps}", "x": tensor(x), "gamma": tensor(gamma),
                      "beta": tensor(beta), "epsilon": eps, "grad": tensor(g), "out": out32(out),
                      "normalized": out32(normalized(f64(x), -1, e)), "x_grad": out32(dx),
                      "gamma_grad": out32(dgamma), "beta_grad": out32(dbeta)})
    for shape, eps in (((6, 3), 1e-3), ((2, 3, 4, 5), 1e-5), ((5, 70), 1e-3), ((1, 4), 0.1), ((7,), 1e-3)):
        x = normal(shape, 2.0, 1.0)
        scale, offset = normal(shape[-1:]), normal(shape[-1:])
        g = normal(shape)
        e = f64(F32(eps))
        axes = tuple(range(len(shape) - 1))
        out, vjp = jax.vjp(lambda a, s, b: normalized(a, axes, e) * s + b, f64(x), f64(scale), f64(offset))
        dx, dscale, doffset = vjp(f64(g))
        mean = jnp.mean(f64(x), axis=axes)
        var = jnp.mean((f64(x) - mean) ** 2, axis=axes)
        cases.append({"op": "batch_norm_train", "name": f"{list(shape)} eps={eps}", "x": tensor(x),
                      "scale": tensor(scale), "offset": tensor(offset), "epsilon": eps, "grad": tensor(g),
                      "out": out32(out), "mean": out32(mean), "variance": out32(var),
                      "normalized": out32(normalized(f64(x), axes, e)), "x_grad": out32(dx),
                      "scale_grad": out32(dscale), "offset_grad": out32(doffset)})
    return cases


def main():
    kernels.write("nn_grads", conv_cases() + pool_cases() + norm_cases())


if __name__ == "__main__":
    main()
