//! Elementwise functions of one element, as the loops the optimizer fuses
//! call them. Each delegates to the function the array kernels use, so a
//! fused graph computes exactly what an unfused one does. NaN propagates
//! through every function.
//!
//! ```
//! use graph_runtime::kernels::scalar;
//!
//! assert_eq!(scalar::relu(-2.0), 0.0);
//! assert_eq!(scalar::clip(7.0, 0.0, 6.0), 6.0);
//! assert!(scalar::sigmoid(f32::NAN).is_nan());
//! ```
// Every function is tiny and called per element: inline them across crates.
#![allow(clippy::inline_always)]

/// `-x`.
#[inline(always)]
#[must_use]
pub fn neg(x: f32) -> f32 {
    -x
}

/// `|x|`.
#[inline(always)]
#[must_use]
pub fn abs(x: f32) -> f32 {
    x.abs()
}

/// `e^x`.
#[inline(always)]
#[must_use]
pub fn exp(x: f32) -> f32 {
    x.exp()
}

/// The natural logarithm; NaN below 0, -inf at 0.
#[inline(always)]
#[must_use]
pub fn log(x: f32) -> f32 {
    x.ln()
}

/// The square root; NaN below 0.
#[inline(always)]
#[must_use]
pub fn sqrt(x: f32) -> f32 {
    x.sqrt()
}

/// `x²`.
#[inline(always)]
#[must_use]
pub fn square(x: f32) -> f32 {
    x * x
}

/// `x^p`.
#[inline(always)]
#[must_use]
pub fn pow(x: f32, p: f32) -> f32 {
    x.powf(p)
}

/// `max(x, 0)`, keeping NaN.
#[inline(always)]
#[must_use]
pub fn relu(x: f32) -> f32 {
    super::unary::relu_scalar(x)
}

/// `x` for `x ≥ 0`, else `alpha·x`.
#[inline(always)]
#[must_use]
pub fn leaky_relu(x: f32, alpha: f32) -> f32 {
    super::unary::leaky_relu_scalar(x, alpha)
}

/// `1 / (1 + e^-x)`, computed from `e^-|x|` so it neither overflows nor
/// loses precision for large `|x|`.
#[inline(always)]
#[must_use]
pub fn sigmoid(x: f32) -> f32 {
    super::unary::sigmoid_scalar(x)
}

/// The hyperbolic tangent.
#[inline(always)]
#[must_use]
pub fn tanh(x: f32) -> f32 {
    x.tanh()
}

/// GELU, tanh approximation: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`,
/// evaluated in `f64` as `x·sigmoid(2u)`.
#[inline(always)]
#[must_use]
pub fn gelu_tanh(x: f32) -> f32 {
    super::unary::gelu_tanh_scalar(x)
}

/// GELU, exact: `x·Φ(x) = 0.5·x·erfc(-x/√2)`, evaluated in `f64`.
#[inline(always)]
#[must_use]
pub fn gelu_exact(x: f32) -> f32 {
    super::unary::gelu_exact_scalar(x)
}

/// `ln(1 + e^x)` as `max(x, 0) + ln(1 + e^-|x|)`, stable for large `|x|`.
#[inline(always)]
#[must_use]
pub fn softplus(x: f32) -> f32 {
    super::unary::softplus_scalar(x)
}

/// `min(max(x, lo), hi)`, as `numpy.clip`: with `lo > hi` the result is `hi`.
#[inline(always)]
#[must_use]
pub fn clip(x: f32, lo: f32, hi: f32) -> f32 {
    super::unary::clip_scalar(x, lo, hi)
}

/// The larger of `a` and `b`; NaN if either is NaN.
#[inline(always)]
#[must_use]
pub fn maximum(a: f32, b: f32) -> f32 {
    super::binary::nan_maximum(a, b)
}

/// The smaller of `a` and `b`; NaN if either is NaN.
#[inline(always)]
#[must_use]
pub fn minimum(a: f32, b: f32) -> f32 {
    super::binary::nan_minimum(a, b)
}
