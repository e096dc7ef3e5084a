//! Elementwise functions of one element: the formulas every array kernel
//! maps, and the functions fused loops call, so a fused graph computes
//! exactly what an unfused one does. NaN propagates through every function.
//!
//! This module needs neither `std` nor `alloc`. With the `std` feature the
//! transcendental functions are `std`'s (the platform's math library);
//! without it they come from the `libm` crate, so a `no_std` build and a
//! `std` build of the same graph can differ in the last bit of an `exp` or
//! a `tanh`, never in the formulas around them.
//!
//! Each function of one element `f` also has its derivative `f_slope`
//! (`relu_slope`, `pow_slope`, …): `f'(x)`, which a backward pass multiplies
//! by the incoming gradient. At kinks the slopes take the values JAX's
//! gradients take, and NaN gives NaN; `docs/NUMERICS.md` tabulates both.
//!
//! ```
//! use graph_runtime::scalar;
//!
//! assert_eq!(scalar::relu(-2.0), 0.0);
//! assert_eq!(scalar::relu_slope(0.0), 0.0);
//! assert_eq!(scalar::clip(7.0, 0.0, 6.0), 6.0);
//! assert!(scalar::sigmoid(f32::NAN).is_nan());
//! ```
// Every function is tiny and called per element: inline them across crates.
#![allow(clippy::inline_always)]

/// The math library: `std`'s methods, or `libm` without `std`.
#[cfg(feature = "std")]
mod math {
    #[inline(always)]
    pub fn expf(x: f32) -> f32 {
        x.exp()
    }
    #[inline(always)]
    pub fn expm1f(x: f32) -> f32 {
        x.exp_m1()
    }
    #[inline(always)]
    pub fn logf(x: f32) -> f32 {
        x.ln()
    }
    #[inline(always)]
    pub fn log1pf(x: f32) -> f32 {
        x.ln_1p()
    }
    #[inline(always)]
    pub fn sqrtf(x: f32) -> f32 {
        x.sqrt()
    }
    #[inline(always)]
    pub fn powf(x: f32, p: f32) -> f32 {
        x.powf(p)
    }
    #[inline(always)]
    pub fn tanhf(x: f32) -> f32 {
        x.tanh()
    }
    #[inline(always)]
    pub fn exp(x: f64) -> f64 {
        x.exp()
    }
    #[inline(always)]
    pub fn log(x: f64) -> f64 {
        x.ln()
    }
    #[inline(always)]
    pub fn pow(x: f64, p: f64) -> f64 {
        x.powf(p)
    }
}

#[cfg(not(feature = "std"))]
mod math {
    pub use libm::{exp, expf, expm1f, log, log1pf, logf, pow, powf, sqrtf, tanhf};
}

/// `x`: the activation of a dense layer without one.
#[inline(always)]
#[must_use]
pub fn identity(x: f32) -> f32 {
    x
}

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
    f32::from_bits(x.to_bits() & 0x7fff_ffff)
}

/// `e^x` (overflows to `+inf` above about 88.7).
#[inline(always)]
#[must_use]
pub fn exp(x: f32) -> f32 {
    math::expf(x)
}

/// The natural logarithm; NaN below 0, -inf at 0.
#[inline(always)]
#[must_use]
pub fn log(x: f32) -> f32 {
    math::logf(x)
}

/// The square root; NaN below 0.
#[inline(always)]
#[must_use]
pub fn sqrt(x: f32) -> f32 {
    math::sqrtf(x)
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
    math::powf(x, p)
}

/// `max(x, 0)`, keeping NaN (`f32::max` would turn NaN into 0).
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
        1.0 / (1.0 + math::expf(-x))
    } else {
        // Also reached by NaN, which `exp` propagates.
        let e = math::expf(x);
        e / (1.0 + e)
    }
}

/// Sigmoid linear unit, or swish: `x·σ(x)`, the input times [`sigmoid`] of
/// it, rounded as `x * sigmoid(x)` is, so it equals that expression bit for
/// bit.
///
/// `+inf` gives `+inf` and NaN gives NaN. `-inf` gives **NaN** (`-inf · 0`),
/// as the GELUs do, although the limit is 0. Very negative finite inputs give
/// tiny negative results down to about `-104`, then `-0`; below about `-87`
/// `σ(x)` is subnormal, so those tiny results keep only the few significant
/// bits a subnormal has.
#[inline(always)]
#[must_use]
pub fn silu(x: f32) -> f32 {
    x * sigmoid(x)
}

/// ELU: `x` for `x > 0`, else `alpha·(eˣ − 1)`, with `eˣ − 1` from an
/// accurate `expm1` so small negative inputs keep their precision. The usual
/// `alpha` is 1.
///
/// NaN gives NaN (it takes the `expm1` branch, which propagates it), `+inf`
/// gives `+inf` and `-inf` gives `-alpha`; `-0` gives `-0` for `alpha > 0`.
#[inline(always)]
#[must_use]
pub fn elu(x: f32, alpha: f32) -> f32 {
    if x > 0.0 {
        x
    } else {
        alpha * math::expm1f(x)
    }
}

/// Hard sigmoid: `max(0, min(1, alpha·x + beta))`, the product and the sum
/// rounded separately (no fused multiply-add), clamped by [`clip`] so NaN is
/// kept. ONNX's `HardSigmoid` and Keras 2's `hard_sigmoid` use
/// `alpha = 0.2, beta = 0.5`; `torch.nn.Hardsigmoid` is
/// `alpha = 1/6, beta = 0.5`.
///
/// For `alpha > 0`, `+inf` gives 1 and `-inf` gives 0; with `alpha = 0` an
/// infinite input gives NaN (`0 · inf`), as [`leaky_relu`] does.
#[inline(always)]
#[must_use]
pub fn hard_sigmoid(x: f32, alpha: f32, beta: f32) -> f32 {
    clip(alpha * x + beta, 0.0, 1.0)
}

/// The hyperbolic tangent.
#[inline(always)]
#[must_use]
pub fn tanh(x: f32) -> f32 {
    math::tanhf(x)
}

/// `√(2/π)`, the scale of the tanh approximation of GELU.
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of the tanh approximation of GELU.
const GELU_CUBIC: f64 = 0.044_715;

/// GELU, tanh approximation: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`,
/// evaluated in `f64` as the equal `x·σ(2u)`, with `u` the tanh argument and
/// `σ` the stable sigmoid, so large negative inputs give tiny negative
/// results instead of a cancelled `1 + tanh(u)`.
#[inline(always)]
#[must_use]
pub fn gelu_tanh(x: f32) -> f32 {
    let x = f64::from(x);
    let u = SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x);
    let s = if u >= 0.0 {
        1.0 / (1.0 + math::exp(-2.0 * u))
    } else {
        let e = math::exp(2.0 * u);
        e / (1.0 + e)
    };
    narrow(x * s)
}

/// GELU, exact: `x·Φ(x) = 0.5·x·erfc(-x/√2)`, evaluated in `f64` with
/// [`erfc_f64`], so large negative inputs keep their tiny, correctly signed
/// results.
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
    positive + math::log1pf(math::expf(-abs(x)))
}

/// `min(max(x, lo), hi)`, as `numpy.clip`: with `lo > hi` the result is `hi`.
/// Keeps NaN.
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
        // `b` is the larger, equal, or NaN.
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

/// The error function of an `f32`, computed in `f64` by [`erf_f64`] and
/// rounded once.
#[inline(always)]
#[must_use]
pub fn erf(x: f32) -> f32 {
    narrow(erf_f64(f64::from(x)))
}

mod slope;

pub use slope::*;

/// The natural logarithm of an `f64` (the softmax kernels' sums).
#[inline(always)]
pub(crate) fn ln_f64(x: f64) -> f64 {
    math::log(x)
}

/// Below this magnitude erf is summed from its Maclaurin series, above it erfc
/// is evaluated from its continued fraction; both are accurate to about 1e-14
/// there.
const ERF_SERIES_LIMIT: f64 = 2.0;

/// Depth of the erfc continued fraction: 50 terms reach `f64` rounding level
/// for every `x ≥ ERF_SERIES_LIMIT`.
const ERFC_FRACTION_TERMS: u32 = 50;

/// The error function in `f64`, accurate to about 1e-14 (absolute).
///
/// For `|x| < 2` it sums the Maclaurin series
/// `erf x = (2/√π)·Σₙ (−1)ⁿ x²ⁿ⁺¹ / (n!·(2n+1))` until the terms stop
/// mattering; beyond, it returns `±(1 − erfc |x|)` with [`erfc_f64`].
///
/// ```
/// use graph_runtime::scalar::erf_f64;
///
/// assert!((erf_f64(0.5) - 0.520_499_877_813_046_5).abs() < 1e-14);
/// assert_eq!(erf_f64(f64::INFINITY), 1.0);
/// ```
#[must_use]
pub fn erf_f64(x: f64) -> f64 {
    if abs_f64(x) < ERF_SERIES_LIMIT {
        erf_series(x)
    } else {
        // NaN also lands here and stays NaN.
        let magnitude = 1.0 - erfc_continued_fraction(abs_f64(x));
        if x < 0.0 {
            -magnitude
        } else {
            magnitude
        }
    }
}

/// The complementary error function in `f64`: `erfc x = 1 − erf x`, accurate
/// to about 1e-14 relative for `x ≥ 2` (where it is tiny) and 1e-14 absolute
/// elsewhere.
///
/// For `x ≥ 2` it evaluates Laplace's continued fraction
/// `erfc x = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …))))`
/// bottom-up; for `x ≤ −2` it uses `erfc x = 2 − erfc(−x)`, and in between
/// `1 − erf x` with the series of [`erf_f64`].
///
/// ```
/// use graph_runtime::scalar::erfc_f64;
///
/// let tail = erfc_f64(5.0);
/// assert!((tail - 1.537_459_794_428_035e-12).abs() < 1e-25);
/// ```
#[must_use]
pub fn erfc_f64(x: f64) -> f64 {
    if abs_f64(x) < ERF_SERIES_LIMIT {
        1.0 - erf_series(x)
    } else if x > 0.0 {
        erfc_continued_fraction(x)
    } else {
        // Negative, or NaN (which propagates through the fraction).
        2.0 - erfc_continued_fraction(-x)
    }
}

fn erf_series(x: f64) -> f64 {
    let x2 = x * x;
    // `power` is (−1)ⁿ x²ⁿ⁺¹ / n!; each summand divides it by 2n + 1.
    let mut power = x;
    let mut sum = x;
    let mut n = 0.0;
    loop {
        n += 1.0;
        power *= -x2 / n;
        let summand = power / (2.0 * n + 1.0);
        sum += summand;
        if abs_f64(summand) <= 1e-17 * abs_f64(sum) {
            break;
        }
    }
    sum * core::f64::consts::FRAC_2_SQRT_PI
}

fn erfc_continued_fraction(x: f64) -> f64 {
    // The k-th partial numerator is k/2.
    let mut tail = x;
    for k in (1..=ERFC_FRACTION_TERMS).rev() {
        tail = x + f64::from(k) / 2.0 / tail;
    }
    math::exp(-x * x) * (0.5 * core::f64::consts::FRAC_2_SQRT_PI) / tail
}

fn abs_f64(x: f64) -> f64 {
    f64::from_bits(x.to_bits() & 0x7fff_ffff_ffff_ffff)
}

/// Rounds an `f64` intermediate to the kernels' element type.
#[allow(clippy::cast_possible_truncation)] // Rounding to f32 is the point.
fn narrow(x: f64) -> f32 {
    x as f32
}

/// An elementwise function applied to each result of a dense layer as it is
/// finished. Each computes exactly what the function of the same name in
/// this module computes.
///
/// Not `#[non_exhaustive]`: `graph!`'s dense fusion knows every variant, and
/// staticflow's `tests/kernels.rs` matches over them all to keep the two
/// lists one.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Activation {
    /// `f(v) = v`.
    #[default]
    Identity,
    /// `f(v) = max(v, 0)`, keeping NaN ([`relu`]).
    Relu,
    /// `f(v) = v` for `v ≥ 0`, `α·v` otherwise ([`leaky_relu`]).
    LeakyRelu(f32),
    /// `f(v) = 1 / (1 + e⁻ᵛ)` ([`sigmoid`]).
    Sigmoid,
    /// `f(v) = tanh v` ([`tanh`]).
    Tanh,
    /// GELU, tanh approximation ([`gelu_tanh`]).
    GeluTanh,
    /// GELU, exact form ([`gelu_exact`]).
    GeluExact,
    /// `f(v) = ln(1 + eᵛ)` ([`softplus`]).
    Softplus,
    /// `f(v) = min(max(v, lo), hi)` ([`clip`]; `Clip(0.0, 6.0)` is `ReLU6`).
    Clip(f32, f32),
    /// Sigmoid linear unit, or swish: `f(v) = v·σ(v)` ([`silu`]).
    Silu,
    /// ELU: `f(v) = v` for `v > 0`, `α·(eᵛ − 1)` otherwise ([`elu`]; the
    /// usual `α` is 1).
    Elu(f32),
    /// Hard sigmoid: `f(v) = max(0, min(1, α·v + β))`, the fields being `α`
    /// then `β` ([`hard_sigmoid`]; `HardSigmoid(0.2, 0.5)` is ONNX's default,
    /// `HardSigmoid(1.0 / 6.0, 0.5)` is `torch.nn.Hardsigmoid`).
    HardSigmoid(f32, f32),
}

impl Activation {
    /// The activation of one value.
    ///
    /// ```
    /// use graph_runtime::scalar::Activation;
    ///
    /// assert_eq!(Activation::Relu.apply(-2.0), 0.0);
    /// assert_eq!(Activation::LeakyRelu(0.5).apply(-2.0), -1.0);
    /// assert_eq!(Activation::Clip(0.0, 6.0).apply(7.0), 6.0);
    /// assert_eq!(Activation::Silu.apply(0.0), 0.0);
    /// assert_eq!(Activation::Elu(2.0).apply(3.0), 3.0);
    /// assert_eq!(Activation::HardSigmoid(0.2, 0.5).apply(5.0), 1.0);
    /// ```
    #[must_use]
    #[inline]
    pub fn apply(self, v: f32) -> f32 {
        match self {
            Activation::Identity => v,
            Activation::Relu => relu(v),
            Activation::LeakyRelu(alpha) => leaky_relu(v, alpha),
            Activation::Sigmoid => sigmoid(v),
            Activation::Tanh => tanh(v),
            Activation::GeluTanh => gelu_tanh(v),
            Activation::GeluExact => gelu_exact(v),
            Activation::Softplus => softplus(v),
            Activation::Clip(lo, hi) => clip(v, lo, hi),
            Activation::Silu => silu(v),
            Activation::Elu(alpha) => elu(v, alpha),
            Activation::HardSigmoid(alpha, beta) => hard_sigmoid(v, alpha, beta),
        }
    }
}

#[cfg(test)]
mod slope_reference_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_is_symmetric_and_matches_erf() {
        for &x in &[0.0, 0.5, 1.9, 2.0, 2.5, 4.0, 6.0] {
            assert!((erfc_f64(x) + erfc_f64(-x) - 2.0).abs() < 1e-15);
            assert!((erf_f64(x) + erfc_f64(x) - 1.0).abs() < 1e-14);
        }
    }

    #[test]
    fn nan_propagates_through_every_function() {
        let nan = f32::NAN;
        let unary: [fn(f32) -> f32; 13] = [
            neg, abs, exp, log, sqrt, square, relu, sigmoid, tanh, gelu_tanh, gelu_exact, softplus,
            silu,
        ];
        for f in unary {
            assert!(f(nan).is_nan());
        }
        assert!(pow(nan, 2.0).is_nan() && leaky_relu(nan, 0.1).is_nan());
        assert!(clip(nan, 0.0, 1.0).is_nan());
        assert!(elu(nan, 1.0).is_nan() && hard_sigmoid(nan, 0.2, 0.5).is_nan());
        assert!(maximum(nan, 1.0).is_nan() && maximum(1.0, nan).is_nan());
        assert!(minimum(nan, 1.0).is_nan() && minimum(1.0, nan).is_nan());
    }

    #[test]
    fn abs_clears_only_the_sign() {
        assert_eq!(abs(-0.0).to_bits(), 0.0_f32.to_bits());
        assert_eq!(abs(-f32::INFINITY), f32::INFINITY);
        assert_eq!(abs_f64(-2.5), 2.5);
    }
}
