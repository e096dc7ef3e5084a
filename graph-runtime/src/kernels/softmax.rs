//! The softmax family along one axis: softmax, log-softmax and log-sum-exp.
//!
//! Every lane (the 1-D slices along `axis`) is shifted by its maximum before
//! exponentiating, so no exponential overflows: `softmax([1000, 1000, -1000])`
//! is `[0.5, 0.5, 0]` and logits of magnitude 1e4 give finite results. The
//! exponentials are summed in `f64`. A NaN anywhere in a lane makes that whole
//! lane NaN; a lane holding `+inf`, or only `-inf`, has no finite shift and
//! gives NaN too (as `exp(x - max)` does in numpy).

use ndarray::{Array, ArrayView, ArrayView1, Axis, Dimension, IxDyn, Zip};

use super::binary::dim_from_shape;
use super::reduce::nan_max;
use super::shape_panic;

/// Softmax along `axis`: `out[.., i, ..] = e^(x_i − m) / Σ_j e^(x_j − m)`,
/// with `m` the lane's maximum.
///
/// # Panics
/// If `axis` is not an axis of `x`.
///
/// ```
/// use graph_runtime::kernels::softmax::softmax;
/// use ndarray::array;
///
/// let p = softmax(array![1000.0_f32, 1000.0, -1000.0].view(), 0);
/// assert_eq!(p, array![0.5, 0.5, 0.0]);
/// ```
#[track_caller]
#[must_use]
pub fn softmax<D: Dimension>(x: ArrayView<'_, f32, D>, axis: usize) -> Array<f32, D> {
    map_lanes("softmax", &x, axis, |lane, mut out| {
        let m = lane_max(lane);
        let mut total = 0.0_f64;
        for (o, &v) in out.iter_mut().zip(lane) {
            *o = (v - m).exp();
            total += f64::from(*o);
        }
        let total = narrow(total);
        for o in out {
            *o /= total;
        }
    })
}

/// Log-softmax along `axis`:
/// `out[.., i, ..] = x_i − m − ln Σ_j e^(x_j − m)`, with `m` the lane's
/// maximum, which equals `ln softmax(x)` without its underflow to `-inf`.
///
/// # Panics
/// If `axis` is not an axis of `x`.
///
/// ```
/// use graph_runtime::kernels::softmax::log_softmax;
/// use ndarray::array;
///
/// let y = log_softmax(array![[1e4_f32, 0.0]].view(), 1);
/// assert_eq!(y, array![[0.0, -1e4]]);
/// ```
#[track_caller]
#[must_use]
pub fn log_softmax<D: Dimension>(x: ArrayView<'_, f32, D>, axis: usize) -> Array<f32, D> {
    map_lanes("log_softmax", &x, axis, |lane, mut out| {
        let m = lane_max(lane);
        let log_total = narrow(shifted_exp_sum(lane, m).ln());
        for (o, &v) in out.iter_mut().zip(lane) {
            // Never forms `m + log_total`, which would round at the scale of
            // `m` and cost the small results their precision.
            *o = (v - m) - log_total;
        }
    })
}

/// Log-sum-exp along `axis`: `out = m + ln Σ_i e^(x_i − m)`, with `m` the
/// lane's maximum. The axis is removed, or kept with length 1 if `keep_dims`.
/// A lane whose maximum is infinite gives that infinity (an empty lane gives
/// `-inf`).
///
/// # Panics
/// If `axis` is not an axis of `x`, or `O` is not the result's rank.
///
/// ```
/// use graph_runtime::kernels::softmax::logsumexp;
/// use ndarray::{array, Array1};
///
/// let x = array![[1e4_f32, 1e4], [0.0, f32::NEG_INFINITY]];
/// let y: Array1<f32> = logsumexp(x.view(), 1, false);
/// assert_eq!(y, array![1e4 + 2.0_f32.ln(), 0.0]);
/// ```
#[track_caller]
pub fn logsumexp<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    axis: usize,
    keep_dims: bool,
) -> Array<f32, O> {
    if axis >= x.ndim() {
        shape_panic("logsumexp", &[x.shape(), &[axis]]);
    }
    let mut shape = x.shape().to_vec();
    if keep_dims {
        shape[axis] = 1;
    } else {
        shape.remove(axis);
    }
    let dim: O = dim_from_shape("logsumexp", &[x.shape(), &[axis]], &shape);
    let values = x.view().into_dyn().map_axis(Axis(axis), lane_logsumexp);
    // `map_axis` follows the input's memory order; reshaping reads row-major.
    let values = if values.is_standard_layout() {
        values
    } else {
        values.as_standard_layout().into_owned()
    };
    match values
        .into_shape_with_order(IxDyn(&shape))
        .map(Array::into_dimensionality::<O>)
    {
        Ok(Ok(out)) if out.raw_dim() == dim => out,
        _ => shape_panic("logsumexp", &[x.shape(), &[axis]]),
    }
}

/// `ln Σ e^(x_i)` over one lane, shifted by the lane's maximum.
pub(crate) fn lane_logsumexp(lane: ArrayView1<'_, f32>) -> f32 {
    let m = lane_max(lane);
    if m.is_infinite() {
        return m;
    }
    m + narrow(shifted_exp_sum(lane, m).ln())
}

/// The lane's maximum `m` and `ln Σ e^(x_i − m)`, whose sum is the lane's
/// log-sum-exp. Callers that subtract an element from the log-sum-exp use
/// `(m − x) + ln Σ` to avoid rounding at the scale of `m`.
pub(crate) fn lane_shift(lane: ArrayView1<'_, f32>) -> (f32, f64) {
    let m = lane_max(lane);
    (m, shifted_exp_sum(lane, m).ln())
}

/// The lane's maximum, NaN if it holds one, `-inf` if it is empty.
pub(crate) fn lane_max(lane: ArrayView1<'_, f32>) -> f32 {
    lane.iter().fold(f32::NEG_INFINITY, |a, &b| nan_max(a, b))
}

/// `Σ e^(x_i − m)` accumulated in `f64`.
fn shifted_exp_sum(lane: ArrayView1<'_, f32>, m: f32) -> f64 {
    lane.iter().map(|&v| f64::from((v - m).exp())).sum()
}

#[allow(clippy::cast_possible_truncation)] // Rounding the f64 accumulator is the point.
fn narrow(x: f64) -> f32 {
    x as f32
}

/// Runs `fill(lane, out_lane)` on every lane along `axis`, into an array of
/// `x`'s shape.
#[track_caller]
fn map_lanes<D: Dimension>(
    kernel: &str,
    x: &ArrayView<'_, f32, D>,
    axis: usize,
    fill: impl Fn(ArrayView1<'_, f32>, ndarray::ArrayViewMut1<'_, f32>),
) -> Array<f32, D> {
    if axis >= x.ndim() {
        shape_panic(kernel, &[x.shape(), &[axis]]);
    }
    let mut out = Array::zeros(x.raw_dim());
    Zip::from(out.lanes_mut(Axis(axis)))
        .and(x.lanes(Axis(axis)))
        .for_each(|out, lane| fill(lane, out));
    out
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // Expected values are exact by construction.
mod tests {
    use super::*;
    use ndarray::{array, Array0, Array1, Array2};

    #[test]
    fn extreme_logits_stay_finite() {
        let x = array![[1e4_f32, -1e4, 0.0], [-1e4, -1e4, -1e4]];
        let p = softmax(x.view(), 1);
        assert_eq!(p.row(0), array![1.0, 0.0, 0.0]);
        for &v in p.row(1) {
            assert!((v - 1.0 / 3.0).abs() < 1e-7);
        }
        let l = log_softmax(x.view(), 1);
        assert_eq!(l.row(0), array![0.0, -2e4, -1e4]);
        assert!(l.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn nan_fills_its_lane_only() {
        let x = array![[1.0_f32, f32::NAN], [1.0, 2.0]];
        let p = softmax(x.view(), 1);
        assert!(p.row(0).iter().all(|v| v.is_nan()));
        assert!(p.row(1).iter().all(|v| v.is_finite()));
        let l: Array1<f32> = logsumexp(x.view(), 1, false);
        assert!(l[0].is_nan() && l[1].is_finite());
    }

    #[test]
    fn infinite_and_empty_lanes() {
        let x = array![[f32::INFINITY, 0.0], [f32::NEG_INFINITY, f32::NEG_INFINITY]];
        let l: Array2<f32> = logsumexp(x.view(), 1, true);
        assert_eq!(l, array![[f32::INFINITY], [f32::NEG_INFINITY]]);
        let empty = Array2::<f32>::zeros((2, 0));
        let e: Array1<f32> = logsumexp(empty.view(), 1, false);
        assert_eq!(e, array![f32::NEG_INFINITY, f32::NEG_INFINITY]);
        assert_eq!(softmax(empty.view(), 1).shape(), &[2, 0]);
    }

    #[test]
    fn first_axis_of_transposed_view() {
        let x = array![[0.0_f32, 1.0], [0.0, 1.0]];
        // Columns of x.t() are rows of x: softmax over axis 0 of x.t().
        let p = softmax(x.t(), 0);
        let q = softmax(x.view(), 1);
        assert_eq!(p, q.t());
        let s: Array0<f32> = logsumexp(array![0.0_f32, 0.0].view(), 0, false);
        assert_eq!(s.into_scalar(), 2.0_f32.ln());
    }

    #[test]
    #[should_panic(
        expected = "kernel `softmax` called with operands of incompatible shapes [[2], [1]]"
    )]
    fn axis_out_of_range_panics() {
        let _ = softmax(array![1.0_f32, 2.0].view(), 1);
    }
}
