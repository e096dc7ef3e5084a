//! Elementwise functions of one element: the single definition of every
//! elementwise op's value, shared by the array kernels and by the loops the
//! optimizer fuses, so a fused graph computes exactly what an unfused one
//! does. NaN propagates through every function.
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

use super::unary::erfc_f64;

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
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// `x` for `x ≥ 0`, else `alpha·x`.
#[inline(always)]
#[must_use]
pub fn leaky_relu(x: f32, alpha: f32) -> f32 {
    if x < 0.0 {
        alpha * x
    } else {
        x
    }
}

/// `1 / (1 + e^-x)`, computed from `e^-|x|` so it neither overflows nor
/// loses precision for large `|x|`.
#[inline(always)]
#[must_use]
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        // Also reached by NaN, which `exp` propagates.
        let e = x.exp();
        e / (1.0 + e)
    }
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
    const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
    let x = f64::from(x);
    let u = SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x);
    let s = if u >= 0.0 {
        1.0 / (1.0 + (-2.0 * u).exp())
    } else {
        let e = (2.0 * u).exp();
        e / (1.0 + e)
    };
    narrow(x * s)
}

/// GELU, exact: `x·Φ(x) = 0.5·x·erfc(-x/√2)`, evaluated in `f64`.
#[inline(always)]
#[must_use]
pub fn gelu_exact(x: f32) -> f32 {
    let x = f64::from(x);
    narrow(0.5 * x * erfc_f64(-x * core::f64::consts::FRAC_1_SQRT_2))
}

/// `ln(1 + e^x)` as `max(x, 0) + ln(1 + e^-|x|)`, stable for large `|x|`.
#[inline(always)]
#[must_use]
pub fn softplus(x: f32) -> f32 {
    let positive = if x > 0.0 { x } else { 0.0 };
    // NaN propagates through the second term.
    positive + (-x.abs()).exp().ln_1p()
}

/// `min(max(x, lo), hi)`, as `numpy.clip`: with `lo > hi` the result is `hi`.
#[inline(always)]
#[must_use]
pub fn clip(x: f32, lo: f32, hi: f32) -> f32 {
    let raised = if x < lo { lo } else { x };
    if raised > hi {
        hi
    } else {
        raised
    }
}

/// The larger of `a` and `b`; NaN if either is NaN.
#[inline(always)]
#[must_use]
pub fn maximum(a: f32, b: f32) -> f32 {
    if a.is_nan() || a > b {
        a
    } else {
        b
    }
}

/// The smaller of `a` and `b`; NaN if either is NaN.
#[inline(always)]
#[must_use]
pub fn minimum(a: f32, b: f32) -> f32 {
    if a.is_nan() || a < b {
        a
    } else {
        b
    }
}

#[allow(clippy::cast_possible_truncation)]
#[inline(always)]
fn narrow(x: f64) -> f32 {
    // Rounds to the nearest f32, as every f64 → f32 conversion here intends.
    x as f32
}
