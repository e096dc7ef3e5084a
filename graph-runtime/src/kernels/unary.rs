//! Elementwise kernels of one operand (plus literal scalar parameters).
//!
//! Each kernel maps every element of a view of any rank through one function
//! and returns an owned array of the same shape (and, for contiguous input, the
//! same memory order). NaN propagates: a NaN element gives a NaN result.
//! Negation lives in [`elementwise::neg`](super::elementwise::neg).

use ndarray::{Array, ArrayView, Dimension};

/// Absolute value: `out = |x|`.
///
/// ```
/// use graph_runtime::kernels::unary::abs;
/// use ndarray::array;
///
/// assert_eq!(abs(array![-1.5_f32, 2.0].view()), array![1.5, 2.0]);
/// ```
#[must_use]
pub fn abs<D: Dimension>(x: ArrayView<'_, f32, D>) -> Array<f32, D> {
    x.mapv(f32::abs)
}

/// Natural exponential: `out = eˣ` (overflows to `+inf` above about 88.7).
///
/// ```
/// use graph_runtime::kernels::unary::exp;
/// use ndarray::array;
///
/// assert_eq!(exp(array![0.0_f32].view()), array![1.0]);
/// ```
#[must_use]
pub fn exp<D: Dimension>(x: ArrayView<'_, f32, D>) -> Array<f32, D> {
    x.mapv(f32::exp)
}

/// Natural logarithm: `out = ln x`; `ln 0 = -inf` and `ln x` is NaN for
/// `x < 0`, as IEEE-754 defines them.
///
/// ```
/// use graph_runtime::kernels::unary::log;
/// use ndarray::array;
///
/// let y = log(array![1.0_f32, 0.0].view());
/// assert_eq!(y, array![0.0, f32::NEG_INFINITY]);
/// ```
#[must_use]
pub fn log<D: Dimension>(x: ArrayView<'_, f32, D>) -> Array<f32, D> {
    x.mapv(f32::ln)
}

/// Square root: `out = √x`, NaN for `x < 0`.
///
/// ```
/// use graph_runtime::kernels::unary::sqrt;
/// use ndarray::array;
///
/// assert_eq!(sqrt(array![4.0_f32, 0.25].view()), array![2.0, 0.5]);
/// ```
#[must_use]
pub fn sqrt<D: Dimension>(x: ArrayView<'_, f32, D>) -> Array<f32, D> {
    x.mapv(f32::sqrt)
}

/// Square: `out = x²`.
///
/// ```
/// use graph_runtime::kernels::unary::square;
/// use ndarray::array;
///
/// assert_eq!(square(array![-3.0_f32].view()), array![9.0]);
/// ```
#[must_use]
pub fn square<D: Dimension>(x: ArrayView<'_, f32, D>) -> Array<f32, D> {
    x.mapv(|v| v * v)
}

/// Power with a scalar exponent: `out = xᵖ`, with the IEEE-754 `pow` rules
/// (a negative base with a non-integer exponent gives NaN, `x⁰ = 1`).
///
/// ```
/// use graph_runtime::kernels::unary::pow;
/// use ndarray::array;
///
/// assert_eq!(pow(array![2.0_f32, 9.0].view(), 0.5), array![2.0_f32.sqrt(), 3.0]);
/// ```
#[must_use]
pub fn pow<D: Dimension>(x: ArrayView<'_, f32, D>, p: f32) -> Array<f32, D> {
    x.mapv(|v| v.powf(p))
}

/// Rectified linear unit: `out = max(x, 0)`, keeping NaN.
///
/// ```
/// use graph_runtime::kernels::unary::relu;
/// use ndarray::array;
///
/// assert_eq!(relu(array![-1.0_f32, 2.0].view()), array![0.0, 2.0]);
/// ```
#[must_use]
pub fn relu<D: Dimension>(x: ArrayView<'_, f32, D>) -> Array<f32, D> {
    // `f32::max` would turn NaN into 0; this comparison keeps it.
    x.mapv(|v| if v < 0.0 { 0.0 } else { v })
}

/// Leaky rectified linear unit: `out = x` for `x ≥ 0`, `α·x` otherwise.
///
/// ```
/// use graph_runtime::kernels::unary::leaky_relu;
/// use ndarray::array;
///
/// assert_eq!(leaky_relu(array![-2.0_f32, 3.0].view(), 0.25), array![-0.5, 3.0]);
/// ```
#[must_use]
pub fn leaky_relu<D: Dimension>(x: ArrayView<'_, f32, D>, alpha: f32) -> Array<f32, D> {
    x.mapv(|v| if v < 0.0 { alpha * v } else { v })
}

/// Logistic sigmoid: `out = 1 / (1 + e⁻ˣ)`.
///
/// Evaluated as `1 / (1 + e⁻ˣ)` for `x ≥ 0` and `eˣ / (1 + eˣ)` for `x < 0`,
/// so the exponential never overflows and tiny results keep their precision.
///
/// ```
/// use graph_runtime::kernels::unary::sigmoid;
/// use ndarray::array;
///
/// let y = sigmoid(array![0.0_f32, 1000.0, -1000.0].view());
/// assert_eq!(y, array![0.5, 1.0, 0.0]);
/// ```
#[must_use]
pub fn sigmoid<D: Dimension>(x: ArrayView<'_, f32, D>) -> Array<f32, D> {
    x.mapv(sigmoid_scalar)
}

fn sigmoid_scalar(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        // Also reached by NaN, which `exp` propagates.
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Hyperbolic tangent: `out = tanh x`.
///
/// ```
/// use graph_runtime::kernels::unary::tanh;
/// use ndarray::array;
///
/// assert_eq!(tanh(array![0.0_f32, 100.0].view()), array![0.0, 1.0]);
/// ```
#[must_use]
pub fn tanh<D: Dimension>(x: ArrayView<'_, f32, D>) -> Array<f32, D> {
    x.mapv(f32::tanh)
}

/// GELU, tanh approximation:
/// `out = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
///
/// Evaluated as the equal `x·σ(2u)` with `u` the tanh argument and `σ` the
/// stable sigmoid, so large negative inputs give tiny negative results instead
/// of a cancelled `1 + tanh(u)`.
///
/// ```
/// use graph_runtime::kernels::unary::gelu_tanh;
/// use ndarray::array;
///
/// let y = gelu_tanh(array![0.0_f32, 10.0].view());
/// assert_eq!(y, array![0.0, 10.0]);
/// ```
#[must_use]
pub fn gelu_tanh<D: Dimension>(x: ArrayView<'_, f32, D>) -> Array<f32, D> {
    const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
    x.mapv(|v| {
        let x = f64::from(v);
        let u = SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x);
        let s = if u >= 0.0 {
            1.0 / (1.0 + (-2.0 * u).exp())
        } else {
            let e = (2.0 * u).exp();
            e / (1.0 + e)
        };
        narrow(x * s)
    })
}

/// GELU, exact form: `out = x·Φ(x) = ½·x·(1 + erf(x / √2))`.
///
/// `1 + erf(x/√2)` is computed as `erfc(-x/√2)` (see [`erfc_f64`]), so large
/// negative inputs keep their tiny, correctly signed results.
///
/// ```
/// use graph_runtime::kernels::unary::gelu_exact;
/// use ndarray::array;
///
/// let y = gelu_exact(array![0.0_f32, 1.0].view());
/// assert!((y[1] - 0.841_344_7).abs() < 1e-6);
/// ```
#[must_use]
pub fn gelu_exact<D: Dimension>(x: ArrayView<'_, f32, D>) -> Array<f32, D> {
    x.mapv(|v| {
        let x = f64::from(v);
        narrow(0.5 * x * erfc_f64(-x * core::f64::consts::FRAC_1_SQRT_2))
    })
}

/// Error function, elementwise: `out = erf x = (2/√π)·∫₀ˣ e^(−t²) dt`.
///
/// Computed in `f64` by [`erf_f64`] and rounded once.
///
/// ```
/// use graph_runtime::kernels::unary::erf;
/// use ndarray::array;
///
/// let y = erf(array![0.0_f32, 10.0, -10.0].view());
/// assert_eq!(y, array![0.0, 1.0, -1.0]);
/// ```
#[must_use]
pub fn erf<D: Dimension>(x: ArrayView<'_, f32, D>) -> Array<f32, D> {
    x.mapv(|v| narrow(erf_f64(f64::from(v))))
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
/// use graph_runtime::kernels::unary::erf_f64;
///
/// assert!((erf_f64(0.5) - 0.520_499_877_813_046_5).abs() < 1e-14);
/// assert_eq!(erf_f64(f64::INFINITY), 1.0);
/// ```
#[must_use]
pub fn erf_f64(x: f64) -> f64 {
    if x.abs() < ERF_SERIES_LIMIT {
        erf_series(x)
    } else {
        // NaN also lands here and stays NaN.
        (1.0 - erfc_continued_fraction(x.abs())).copysign(x)
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
/// use graph_runtime::kernels::unary::erfc_f64;
///
/// let tail = erfc_f64(5.0);
/// assert!((tail - 1.537_459_794_428_035e-12).abs() < 1e-25);
/// ```
#[must_use]
pub fn erfc_f64(x: f64) -> f64 {
    if x.abs() < ERF_SERIES_LIMIT {
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
        if summand.abs() <= 1e-17 * sum.abs() {
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
    (-x * x).exp() * (0.5 * core::f64::consts::FRAC_2_SQRT_PI) / tail
}

/// Softplus: `out = ln(1 + eˣ)`.
///
/// Evaluated as `max(x, 0) + ln(1 + e^(−|x|))`, which neither overflows for
/// large `x` nor loses small results for very negative `x`.
///
/// ```
/// use graph_runtime::kernels::unary::softplus;
/// use ndarray::array;
///
/// let y = softplus(array![0.0_f32, 1000.0].view());
/// assert_eq!(y, array![2.0_f32.ln(), 1000.0]);
/// ```
#[must_use]
pub fn softplus<D: Dimension>(x: ArrayView<'_, f32, D>) -> Array<f32, D> {
    x.mapv(|v| {
        let positive = if v > 0.0 { v } else { 0.0 };
        // NaN propagates through the second term.
        positive + (-v.abs()).exp().ln_1p()
    })
}

/// Clamps into `[lo, hi]`: `out = min(max(x, lo), hi)`, as `numpy.clip`
/// (so `hi` wins if `lo > hi`), keeping NaN.
///
/// ```
/// use graph_runtime::kernels::unary::clip;
/// use ndarray::array;
///
/// let y = clip(array![-5.0_f32, 0.5, 5.0].view(), 0.0, 1.0);
/// assert_eq!(y, array![0.0, 0.5, 1.0]);
/// ```
#[must_use]
pub fn clip<D: Dimension>(x: ArrayView<'_, f32, D>, lo: f32, hi: f32) -> Array<f32, D> {
    x.mapv(|v| {
        let raised = if v < lo { lo } else { v };
        if raised > hi {
            hi
        } else {
            raised
        }
    })
}

/// Rounds an `f64` intermediate to the kernels' element type.
#[allow(clippy::cast_possible_truncation)] // Rounding to f32 is the point.
fn narrow(x: f64) -> f32 {
    x as f32
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // Expected values are exact by construction.
mod tests {
    use super::*;
    use ndarray::{array, Array0};

    #[test]
    fn nan_propagates_through_every_kernel() {
        let x = array![f32::NAN];
        let v = x.view();
        let outputs = [
            abs(v),
            exp(v),
            log(v),
            sqrt(v),
            square(v),
            pow(v, 2.0),
            relu(v),
            leaky_relu(v, 0.1),
            sigmoid(v),
            tanh(v),
            gelu_tanh(v),
            gelu_exact(v),
            erf(v),
            softplus(v),
            clip(v, 0.0, 1.0),
        ];
        for (i, y) in outputs.iter().enumerate() {
            assert!(y[0].is_nan(), "kernel #{i} lost NaN");
        }
    }

    #[test]
    fn stable_forms_at_extremes() {
        let x = array![-1e4_f32, -100.0, 100.0, 1e4];
        let s = sigmoid(x.view());
        assert_eq!(s[0], 0.0);
        // e^-100 is about 3.7e-44, a subnormal f32 that the stable form keeps.
        assert!(s[1] > 0.0 && s[1] < 1e-43);
        assert_eq!(s[3], 1.0);
        let sp = softplus(x.view());
        assert_eq!(sp[0], 0.0);
        assert_eq!(sp[3], 1e4);
        let g = gelu_exact(array![-10.0_f32].view());
        // -10·Φ(-10) ≈ -7.62e-23: tiny, but neither zero nor positive.
        assert!(g[0] < 0.0 && g[0] > -1e-22);
        let t = gelu_tanh(array![f32::INFINITY].view());
        assert_eq!(t[0], f32::INFINITY);
    }

    #[test]
    fn erf_symmetry_and_limits() {
        for x in [0.1, 0.7, 1.9, 2.0, 2.1, 3.5, 6.0] {
            assert_eq!(erf_f64(-x), -erf_f64(x));
            assert!((erfc_f64(x) + erfc_f64(-x) - 2.0).abs() < 1e-15);
        }
        assert_eq!(erf_f64(f64::NEG_INFINITY), -1.0);
        assert_eq!(erfc_f64(f64::INFINITY), 0.0);
        assert_eq!(erfc_f64(f64::NEG_INFINITY), 2.0);
        assert!(erf_f64(f64::NAN).is_nan() && erfc_f64(f64::NAN).is_nan());
    }

    #[test]
    fn clip_with_crossed_bounds_follows_numpy() {
        let y = clip(array![0.0_f32, 5.0].view(), 3.0, 1.0);
        assert_eq!(y, array![1.0, 1.0]);
    }

    #[test]
    fn rank_zero_and_empty() {
        let x = Array0::from_elem((), -2.0_f32);
        assert_eq!(relu(x.view()).into_scalar(), 0.0);
        let empty = ndarray::Array2::<f32>::zeros((0, 3));
        assert_eq!(exp(empty.view()).shape(), &[0, 3]);
    }
}
