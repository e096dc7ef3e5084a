//! Elementwise kernels of one operand (plus literal scalar parameters).
//!
//! Each kernel maps every element of a view of any rank through one function
//! and comes in three forms: `name` returns a new standard-layout array of
//! the same shape, `name_into` writes into caller storage of that shape, and
//! `name_inplace` overwrites its operand. The last two accept views of any
//! layout and never allocate. NaN propagates: a NaN element gives a NaN
//! result. Negation lives in [`elementwise::neg`](super::elementwise::neg).

use ndarray::{Array, ArrayView, Dimension};

pub use crate::scalar::{erf_f64, erfc_f64};

mod forms;
pub use forms::*;

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
    let mut out = Array::zeros(x.raw_dim());
    abs_into(x, out.view_mut());
    out
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
    let mut out = Array::zeros(x.raw_dim());
    exp_into(x, out.view_mut());
    out
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
    let mut out = Array::zeros(x.raw_dim());
    log_into(x, out.view_mut());
    out
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
    let mut out = Array::zeros(x.raw_dim());
    sqrt_into(x, out.view_mut());
    out
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
    let mut out = Array::zeros(x.raw_dim());
    square_into(x, out.view_mut());
    out
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
    let mut out = Array::zeros(x.raw_dim());
    pow_into(x, p, out.view_mut());
    out
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
    let mut out = Array::zeros(x.raw_dim());
    relu_into(x, out.view_mut());
    out
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
    let mut out = Array::zeros(x.raw_dim());
    leaky_relu_into(x, alpha, out.view_mut());
    out
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
    let mut out = Array::zeros(x.raw_dim());
    sigmoid_into(x, out.view_mut());
    out
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
    let mut out = Array::zeros(x.raw_dim());
    tanh_into(x, out.view_mut());
    out
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
    let mut out = Array::zeros(x.raw_dim());
    gelu_tanh_into(x, out.view_mut());
    out
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
    let mut out = Array::zeros(x.raw_dim());
    gelu_exact_into(x, out.view_mut());
    out
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
    let mut out = Array::zeros(x.raw_dim());
    erf_into(x, out.view_mut());
    out
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
    let mut out = Array::zeros(x.raw_dim());
    softplus_into(x, out.view_mut());
    out
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
    let mut out = Array::zeros(x.raw_dim());
    clip_into(x, lo, hi, out.view_mut());
    out
}

/// Sigmoid linear unit, or swish: `out = x·σ(x)`, with `σ` the stable
/// [`sigmoid`], so it equals `x * sigmoid(x)` bit for bit.
///
/// `silu(-inf)` is NaN (`-inf · 0`), as for the GELUs; very negative finite
/// inputs give tiny negative results, then `-0`.
///
/// ```
/// use graph_runtime::kernels::unary::silu;
/// use ndarray::array;
///
/// let y = silu(array![0.0_f32, 100.0, -100.0].view());
/// assert_eq!(y[0], 0.0);
/// assert_eq!(y[1], 100.0);
/// assert!(y[2] < 0.0 && y[2] > -1e-40);
/// ```
#[must_use]
pub fn silu<D: Dimension>(x: ArrayView<'_, f32, D>) -> Array<f32, D> {
    let mut out = Array::zeros(x.raw_dim());
    silu_into(x, out.view_mut());
    out
}

/// Exponential linear unit: `out = x` for `x > 0`, `α·(eˣ − 1)` otherwise
/// (the usual `α` is 1).
///
/// `eˣ − 1` comes from an accurate `expm1`, so small negative inputs keep
/// their precision; `-inf` gives `-α`.
///
/// ```
/// use graph_runtime::kernels::unary::elu;
/// use ndarray::array;
///
/// let y = elu(array![2.0_f32, 0.0, f32::NEG_INFINITY].view(), 1.5);
/// assert_eq!(y, array![2.0, 0.0, -1.5]);
/// ```
#[must_use]
pub fn elu<D: Dimension>(x: ArrayView<'_, f32, D>, alpha: f32) -> Array<f32, D> {
    let mut out = Array::zeros(x.raw_dim());
    elu_into(x, alpha, out.view_mut());
    out
}

/// Hard sigmoid: `out = max(0, min(1, α·x + β))`, keeping NaN.
///
/// ONNX's `HardSigmoid` (and Keras 2's) is `α = 0.2, β = 0.5`;
/// `torch.nn.Hardsigmoid` is `α = 1/6, β = 0.5`. The product and the sum
/// are rounded separately, as written.
///
/// ```
/// use graph_runtime::kernels::unary::hard_sigmoid;
/// use ndarray::array;
///
/// let y = hard_sigmoid(array![-5.0_f32, 0.0, 1.0, 5.0].view(), 0.25, 0.5);
/// assert_eq!(y, array![0.0, 0.5, 0.75, 1.0]);
/// ```
#[must_use]
pub fn hard_sigmoid<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    alpha: f32,
    beta: f32,
) -> Array<f32, D> {
    let mut out = Array::zeros(x.raw_dim());
    hard_sigmoid_into(x, alpha, beta, out.view_mut());
    out
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
            silu(v),
            elu(v, 1.0),
            hard_sigmoid(v, 0.2, 0.5),
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
