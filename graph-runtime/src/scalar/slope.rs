//! The slopes: the derivative `f'(x)` of each function of one element of
//! [`super`], for the backward pass, which multiplies it by the incoming
//! gradient. Rules they share, stated in `docs/NUMERICS.md` too:
//! - NaN gives NaN, for every slope (the IEEE rules of `pow` aside), even
//!   where JAX's piecewise rules return a number.
//! - At a kink the slope is what `jax.grad` of the matching `jax.nn` or
//!   `jax.numpy` function returns there, checked against JAX by
//!   `graph-runtime/tests/slopes.rs`.
//! - Infinite inputs give the limit of `f'` where the formula would
//!   otherwise compute `0 · inf`.

use super::{abs, abs_f64, erfc_f64, exp, math, narrow, sigmoid, sqrt, GELU_CUBIC, SQRT_2_OVER_PI};

/// The slope of [`neg`](super::neg): `-1` for every number, `±inf` included; NaN gives
/// NaN (JAX: `-1`), as for every slope here.
#[inline(always)]
#[must_use]
pub fn neg_slope(x: f32) -> f32 {
    if x.is_nan() {
        x
    } else {
        -1.0
    }
}

/// The slope of [`abs`](super::abs): `1` for `x ≥ 0`, `-1` for `x < 0`.
///
/// At the kink, **`abs_slope(0) = abs_slope(-0) = 1`**, as `jax.grad(jnp.abs)`
/// (TensorFlow's and `torch`'s gradients use `sign(0) = 0` instead). `±inf` give `±1`; NaN
/// gives NaN (JAX: `-1`).
///
/// ```
/// use graph_runtime::scalar::abs_slope;
///
/// assert_eq!([abs_slope(-3.0), abs_slope(0.0), abs_slope(-0.0)], [-1.0, 1.0, 1.0]);
/// ```
#[inline(always)]
#[must_use]
pub fn abs_slope(x: f32) -> f32 {
    if x >= 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x
    }
}

/// The slope of [`exp`](super::exp): `eˣ` itself, bit for bit (`+inf` above about 88.7,
/// `0` at `-inf`).
#[inline(always)]
#[must_use]
pub fn exp_slope(x: f32) -> f32 {
    exp(x)
}

/// The slope of [`log`](super::log): `1 / x`, one correctly rounded division.
///
/// `log_slope(0) = +inf` and `log_slope(-0) = -inf`; negative inputs give
/// `1 / x` although [`log`](super::log) is NaN there, as in JAX; `±inf` give `±0`.
#[inline(always)]
#[must_use]
pub fn log_slope(x: f32) -> f32 {
    1.0 / x
}

/// The slope of [`sqrt`](super::sqrt): `0.5 / √x`.
///
/// `sqrt_slope(0) = +inf`, `sqrt_slope(-0) = -inf` (from `√-0 = -0`, as in
/// JAX), NaN below 0 and at `-inf`, `0` at `+inf`.
#[inline(always)]
#[must_use]
pub fn sqrt_slope(x: f32) -> f32 {
    0.5 / sqrt(x)
}

/// The slope of [`square`](super::square): `2x`, exact (`±inf` beyond `±f32::MAX / 2`).
#[inline(always)]
#[must_use]
pub fn square_slope(x: f32) -> f32 {
    2.0 * x
}

/// The slope of [`pow`](super::pow) in `x`: `p·x^(p−1)`, evaluated in `f64` and rounded
/// once, so neither `p − 1` nor the power rounds in `f32`.
///
/// The formula is JAX's, with IEEE `pow`'s special cases: `pow_slope(0, 0)`
/// is **NaN** (`0 · 0⁻¹ = 0 · inf`) as in JAX, although `x⁰ = 1` is flat;
/// `pow_slope(0, p)` is `+inf` for `0 < p < 1`; a negative `x` with a
/// non-integer `p` gives NaN; and `pow_slope(x, 1) = 1` for every `x`, NaN
/// included (`NaN⁰ = 1`), the one slope that does not turn NaN into NaN.
///
/// ```
/// use graph_runtime::scalar::pow_slope;
///
/// assert_eq!(pow_slope(3.0, 2.0), 6.0);
/// assert_eq!(pow_slope(4.0, 0.5), 0.25);
/// assert_eq!(pow_slope(-2.0, 3.0), 12.0);
/// ```
#[inline(always)]
#[must_use]
pub fn pow_slope(x: f32, p: f32) -> f32 {
    let p = f64::from(p);
    narrow(p * math::pow(f64::from(x), p - 1.0))
}

/// The slope of [`relu`](super::relu): `1` for `x > 0`, else `0`.
///
/// At the kink, **`relu_slope(0) = relu_slope(-0) = 0`**, as
/// `jax.grad(jax.nn.relu)` (and TensorFlow's and `torch`'s gradients). `+inf` gives 1, `-inf`
/// gives 0; NaN gives NaN (JAX: `0`).
///
/// ```
/// use graph_runtime::scalar::relu_slope;
///
/// assert_eq!([relu_slope(-1.0), relu_slope(0.0), relu_slope(2.0)], [0.0, 0.0, 1.0]);
/// ```
#[inline(always)]
#[must_use]
pub fn relu_slope(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x <= 0.0 {
        0.0
    } else {
        x
    }
}

/// The slope of [`leaky_relu`](super::leaky_relu): `1` for `x ≥ 0`, `alpha` for `x < 0`.
///
/// At the kink, **`leaky_relu_slope(0, α) = leaky_relu_slope(-0, α) = 1`**,
/// as `jax.grad` of `jax.nn.leaky_relu` (whose `x ≥ 0` branch holds 0), and
/// as [`leaky_relu`](super::leaky_relu) itself takes the `x` branch at 0. `+inf` gives 1, `-inf`
/// gives `alpha`; NaN gives NaN (JAX: `alpha`).
///
/// ```
/// use graph_runtime::scalar::leaky_relu_slope;
///
/// assert_eq!(leaky_relu_slope(-2.0, 0.1), 0.1);
/// assert_eq!(leaky_relu_slope(0.0, 0.1), 1.0);
/// ```
#[inline(always)]
#[must_use]
pub fn leaky_relu_slope(x: f32, alpha: f32) -> f32 {
    if x >= 0.0 {
        1.0
    } else if x < 0.0 {
        alpha
    } else {
        x
    }
}

/// The slope of [`sigmoid`](super::sigmoid): `σ(x)·σ(−x)`, computed as `e / (1 + e)²` with
/// `e = e^−|x|`, the stable sigmoid's exponential, so it neither overflows
/// nor cancels: tiny slopes of large `|x|` keep their precision (down to
/// subnormals beyond about 87).
///
/// `±inf` give `0`; NaN gives NaN.
///
/// ```
/// use graph_runtime::scalar::sigmoid_slope;
///
/// assert_eq!(sigmoid_slope(0.0), 0.25);
/// assert_eq!(sigmoid_slope(1e4), 0.0);
/// ```
#[inline(always)]
#[must_use]
pub fn sigmoid_slope(x: f32) -> f32 {
    let e = math::expf(-abs(x));
    let d = 1.0 + e;
    e / (d * d)
}

/// The slope of [`tanh`](super::tanh): `1 − tanh² x`, computed as the equal
/// `4e / (1 + e)²` with `e = e^−2|x|`, which does not cancel where `tanh x`
/// rounds to `±1` (beyond about 9): `tanh_slope(10) ≈ 8.2e-9`, not 0.
///
/// `±inf` give `0`; NaN gives NaN.
#[inline(always)]
#[must_use]
pub fn tanh_slope(x: f32) -> f32 {
    let e = math::expf(-2.0 * abs(x));
    let d = 1.0 + e;
    4.0 * e / (d * d)
}

/// The slope of [`gelu_tanh`](super::gelu_tanh). With `u = √(2/π)·(x + 0.044715·x³)` and the
/// forward form `x·σ(2u)`, it is `σ(2u) + 2x·u′·σ(2u)·σ(−2u)`, evaluated in
/// `f64` with the stable sigmoid and rounded once, so very negative inputs
/// keep their tiny, negative slopes.
///
/// `+inf` gives 1 and `-inf` gives 0, the limits (JAX gives NaN at both,
/// from `0 · inf`); NaN gives NaN.
///
/// ```
/// use graph_runtime::scalar::gelu_tanh_slope;
///
/// assert_eq!(gelu_tanh_slope(0.0), 0.5);
/// assert_eq!(gelu_tanh_slope(f32::INFINITY), 1.0);
/// ```
#[inline(always)]
#[must_use]
pub fn gelu_tanh_slope(x: f32) -> f32 {
    let x = f64::from(x);
    let u = SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x);
    let du = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_CUBIC * x * x);
    let e = math::exp(-2.0 * abs_f64(u));
    let denominator = 1.0 + e;
    // σ(2u), from e^−2|u| on either side; NaN takes the second branch.
    let sigma = if u >= 0.0 {
        1.0 / denominator
    } else {
        e / denominator
    };
    // σ′(2u) = σ(2u)·σ(−2u). Where it has underflowed the second term is
    // 0, also at ±inf (where it would be 0 · inf).
    let sigma_slope = e / (denominator * denominator);
    let tail = if sigma_slope == 0.0 {
        0.0
    } else {
        2.0 * x * du * sigma_slope
    };
    narrow(sigma + tail)
}

/// The slope of [`gelu_exact`](super::gelu_exact): `Φ(x) + x·φ(x)`, with `Φ(x)` from
/// [`erfc_f64`] as in the forward function and `φ(x) = e^(−x²/2)/√(2π)`,
/// evaluated in `f64` and rounded once.
///
/// `+inf` gives 1 and `-inf` gives 0, the limits (JAX gives NaN at both,
/// from `0 · inf`); NaN gives NaN.
#[inline(always)]
#[must_use]
pub fn gelu_exact_slope(x: f32) -> f32 {
    /// `1/√(2π)`.
    const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
    let x = f64::from(x);
    let cdf = 0.5 * erfc_f64(-x * core::f64::consts::FRAC_1_SQRT_2);
    let pdf = math::exp(-0.5 * x * x) * INV_SQRT_2PI;
    let tail = if pdf == 0.0 { 0.0 } else { x * pdf };
    narrow(cdf + tail)
}

/// The slope of [`erf`](super::erf): `(2/√π)·e^(−x²)`, evaluated in `f64` and
/// rounded once, so it stays accurate (subnormal, then 0) in the tails.
///
/// `±inf` give 0, the limits; NaN gives NaN.
///
/// ```
/// use graph_runtime::scalar::erf_slope;
///
/// assert!((erf_slope(0.0) - 1.128_379_2).abs() < 1e-7);
/// assert_eq!(erf_slope(f32::INFINITY), 0.0);
/// ```
#[inline(always)]
#[must_use]
pub fn erf_slope(x: f32) -> f32 {
    /// `2/√π`.
    const TWO_OVER_SQRT_PI: f64 = core::f64::consts::FRAC_2_SQRT_PI;
    let x = f64::from(x);
    narrow(TWO_OVER_SQRT_PI * math::exp(-(x * x)))
}

/// The slope of [`softplus`](super::softplus): `σ(x)`, [`sigmoid`](super::sigmoid) itself bit for bit.
///
/// `+inf` gives 1, `-inf` gives 0; NaN gives NaN.
#[inline(always)]
#[must_use]
pub fn softplus_slope(x: f32) -> f32 {
    sigmoid(x)
}

/// The slope of [`silu`](super::silu): `σ(x) + x·σ(x)·σ(−x)`, evaluated in `f64` with the
/// stable sigmoid and rounded once, so it is accurate also near its zero at
/// `x ≈ −1.2785`, where the two terms cancel.
///
/// `+inf` gives 1 and `-inf` gives 0, the limits (JAX gives NaN at both,
/// from `0 · inf`); NaN gives NaN.
///
/// ```
/// use graph_runtime::scalar::silu_slope;
///
/// assert_eq!(silu_slope(0.0), 0.5);
/// assert!(silu_slope(-1.3) < 0.0 && silu_slope(-1.25) > 0.0);
/// ```
#[inline(always)]
#[must_use]
pub fn silu_slope(x: f32) -> f32 {
    let x = f64::from(x);
    let e = math::exp(-abs_f64(x));
    let denominator = 1.0 + e;
    // σ(x); NaN takes the second branch.
    let sigma = if x >= 0.0 {
        1.0 / denominator
    } else {
        e / denominator
    };
    // σ′(x) = σ(x)·σ(−x), 0 where it underflows (also at ±inf).
    let sigma_slope = e / (denominator * denominator);
    let tail = if sigma_slope == 0.0 {
        0.0
    } else {
        x * sigma_slope
    };
    narrow(sigma + tail)
}

/// The slope of [`elu`](super::elu): `1` for `x > 0`, else `alpha·eˣ`.
///
/// At the kink, **`elu_slope(0, α) = elu_slope(-0, α) = α`**, the left
/// derivative, as `jax.grad` of `jax.nn.elu` (whose `x > 0` branch excludes
/// 0), and as [`elu`](super::elu) itself takes the `eˣ − 1` branch at 0; for `α = 1`
/// both sides agree. `+inf` gives 1, `-inf` gives `0` (`α·0`); NaN gives NaN.
///
/// ```
/// use graph_runtime::scalar::elu_slope;
///
/// assert_eq!([elu_slope(0.0, 2.0), elu_slope(3.0, 2.0)], [2.0, 1.0]);
/// ```
#[inline(always)]
#[must_use]
pub fn elu_slope(x: f32, alpha: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else {
        // Also reached by NaN, which `exp` propagates.
        alpha * math::expf(x)
    }
}

/// The slope of [`hard_sigmoid`](super::hard_sigmoid): `alpha` where `α·x + β` lies strictly
/// between 0 and 1, else `0`.
///
/// At the kinks, where `α·x + β` is exactly 0 or 1, **the slope is 0**, as
/// `jax.grad(jax.nn.hard_sigmoid)` gives at `x = ±3` (`jax.nn.relu6`'s rule:
/// gradient 0 at both ends; `torch.nn.Hardsigmoid` agrees). `α·x + β` is
/// rounded as in [`hard_sigmoid`](super::hard_sigmoid), so the slope is `alpha` exactly where
/// `hard_sigmoid` returns a value strictly between 0 and 1.
///
/// `±inf` give 0 for `α ≠ 0`; NaN, or `α = 0` with an infinite `x`, gives
/// NaN (the forward function is NaN there too; JAX: 0).
///
/// ```
/// use graph_runtime::scalar::hard_sigmoid_slope;
///
/// assert_eq!(hard_sigmoid_slope(1.0, 0.25, 0.5), 0.25);
/// // The kinks: 0.25·2 + 0.5 = 1 and 0.25·(-2) + 0.5 = 0.
/// assert_eq!([hard_sigmoid_slope(2.0, 0.25, 0.5), hard_sigmoid_slope(-2.0, 0.25, 0.5)], [0.0, 0.0]);
/// ```
#[inline(always)]
#[must_use]
pub fn hard_sigmoid_slope(x: f32, alpha: f32, beta: f32) -> f32 {
    let t = alpha * x + beta;
    if t > 0.0 && t < 1.0 {
        alpha
    } else if t.is_nan() {
        t
    } else {
        0.0
    }
}

/// The slope of [`clip`](super::clip) in `x`, as `jax.grad` of `jnp.clip`, which is
/// `minimum(maximum(x, lo), hi)`: the product of the two extrema's slopes,
/// each `1` where `x` wins, `0` where the bound wins and **`0.5` on a tie**.
///
/// So `1` strictly between the bounds, `0` outside, and at the kinks
/// **`clip_slope(lo, lo, hi) = clip_slope(hi, lo, hi) = 0.5`**;
/// with `lo = hi` the slope at `lo` is `0.25`, and with `lo > hi` (where
/// [`clip`](super::clip) is the constant `hi`) it is 0 everywhere. (TensorFlow and
/// `torch` give 1 at the kinks, `jax.nn.relu6` gives 0: JAX's `jnp.clip` is
/// the reference here.) A NaN bound is ignored, as in [`clip`](super::clip); `±inf` give 0
/// for finite bounds; NaN gives NaN (JAX: 0).
///
/// ```
/// use graph_runtime::scalar::clip_slope;
///
/// let slopes = [-1.0, 0.0, 3.0, 6.0, 7.0].map(|x| clip_slope(x, 0.0, 6.0));
/// assert_eq!(slopes, [0.0, 0.5, 1.0, 0.5, 0.0]);
/// ```
#[inline(always)]
#[must_use]
pub fn clip_slope(x: f32, lo: f32, hi: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    // The slope of `maximum(x, lo)`, and the value `minimum` then sees.
    let (raised, up) = if x < lo {
        (lo, 0.0)
    } else if x == lo {
        (x, 0.5)
    } else {
        (x, 1.0)
    };
    let down = if raised > hi {
        0.0
    } else if raised == hi {
        0.5
    } else {
        1.0
    };
    up * down
}
