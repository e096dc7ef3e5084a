//! The softmax family along one axis: softmax, log-softmax and log-sum-exp.
//!
//! Every lane (the 1-D slices along `axis`) is shifted by its maximum before
//! exponentiating, so no exponential overflows: `softmax([1000, 1000, -1000])`
//! is `[0.5, 0.5, 0]` and logits of magnitude 1e4 give finite results. The
//! exponentials are summed in `f64`. A NaN anywhere in a lane makes that whole
//! lane NaN; a lane holding `+inf`, or only `-inf`, has no finite shift and
//! gives NaN too (as `exp(x - max)` does in numpy).
//!
//! Each kernel has an `_into` form writing into caller storage and
//! `softmax`/`log_softmax` an `_inplace` form; none of them allocates, for
//! any axis and layout (lanes along a non-contiguous axis are simply
//! strided).

use ndarray::{Array, ArrayView, ArrayView1, ArrayViewMut, ArrayViewMut1, Axis, Dimension, Zip};

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
    let mut out = Array::zeros(x.raw_dim());
    softmax_into(x, axis, out.view_mut());
    out
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
    let mut out = Array::zeros(x.raw_dim());
    log_softmax_into(x, axis, out.view_mut());
    out
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
    let mut out = Array::zeros(dim);
    logsumexp_into(x, axis, keep_dims, out.view_mut());
    out
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

/// Softmax of one lane into `out` (which may be the lane itself).
fn softmax_lane(lane: ArrayView1<'_, f32>, mut out: ArrayViewMut1<'_, f32>) {
    let m = lane_max(lane);
    let mut total = 0.0_f64;
    Zip::from(&mut out).and(&lane).for_each(|o, &v| {
        *o = (v - m).exp();
        total += f64::from(*o);
    });
    let total = narrow(total);
    out.mapv_inplace(|o| o / total);
}

/// Log-softmax of one lane into `out`.
fn log_softmax_lane(lane: ArrayView1<'_, f32>, mut out: ArrayViewMut1<'_, f32>) {
    let m = lane_max(lane);
    let log_total = narrow(shifted_exp_sum(lane, m).ln());
    // Never forms `m + log_total`, which would round at the scale of `m` and
    // cost the small results their precision.
    Zip::from(&mut out)
        .and(&lane)
        .for_each(|o, &v| *o = (v - m) - log_total);
}

/// Checks `axis` and that `out` has `x`'s shape, then runs `fill` on every
/// pair of lanes along `axis`.
#[track_caller]
fn lanes_into<D: Dimension>(
    kernel: &str,
    x: &ArrayView<'_, f32, D>,
    axis: usize,
    out: &mut ArrayViewMut<'_, f32, D>,
    fill: impl Fn(ArrayView1<'_, f32>, ArrayViewMut1<'_, f32>),
) {
    if axis >= x.ndim() {
        shape_panic(kernel, &[x.shape(), &[axis]]);
    }
    if x.shape() != out.shape() {
        shape_panic(kernel, &[x.shape(), &[axis], out.shape()]);
    }
    Zip::from(out.lanes_mut(Axis(axis)))
        .and(x.lanes(Axis(axis)))
        .for_each(|out, lane| fill(lane, out));
}

/// [`softmax`] into caller storage of `x`'s shape.
///
/// # Panics
/// If `axis` is not an axis of `x`, or `out` does not have `x`'s shape.
///
/// ```
/// use graph_runtime::kernels::softmax::{softmax, softmax_into};
/// use ndarray::{array, Array2};
///
/// let x = array![[1.0_f32, 2.0], [3.0, 5.0]];
/// let mut out = Array2::zeros((2, 2));
/// softmax_into(x.t(), 1, out.view_mut());
/// assert_eq!(out, softmax(x.t(), 1));
/// ```
#[track_caller]
pub fn softmax_into<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    axis: usize,
    mut out: ArrayViewMut<'_, f32, D>,
) {
    lanes_into("softmax", &x, axis, &mut out, softmax_lane);
}

/// [`softmax`] in place along `axis`.
///
/// # Panics
/// If `axis` is not an axis of `x`.
///
/// ```
/// use graph_runtime::kernels::softmax::{softmax, softmax_inplace};
/// use ndarray::array;
///
/// let x = array![[1.0_f32, 2.0, 3.0], [0.0, 0.0, 0.0]];
/// let mut y = x.clone();
/// softmax_inplace(y.view_mut(), 1);
/// assert_eq!(y, softmax(x.view(), 1));
/// ```
#[track_caller]
pub fn softmax_inplace<D: Dimension>(mut x: ArrayViewMut<'_, f32, D>, axis: usize) {
    if axis >= x.ndim() {
        shape_panic("softmax", &[x.shape(), &[axis]]);
    }
    for mut lane in x.lanes_mut(Axis(axis)) {
        let m = lane_max(lane.view());
        let mut total = 0.0_f64;
        lane.mapv_inplace(|v| {
            let e = (v - m).exp();
            total += f64::from(e);
            e
        });
        let total = narrow(total);
        lane.mapv_inplace(|e| e / total);
    }
}

/// [`log_softmax`] into caller storage of `x`'s shape.
///
/// # Panics
/// If `axis` is not an axis of `x`, or `out` does not have `x`'s shape.
///
/// ```
/// use graph_runtime::kernels::softmax::{log_softmax, log_softmax_into};
/// use ndarray::{array, Array2};
///
/// let x = array![[1.0_f32, 2.0], [3.0, 5.0]];
/// let mut out = Array2::zeros((2, 2));
/// log_softmax_into(x.view(), 0, out.view_mut());
/// assert_eq!(out, log_softmax(x.view(), 0));
/// ```
#[track_caller]
pub fn log_softmax_into<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    axis: usize,
    mut out: ArrayViewMut<'_, f32, D>,
) {
    lanes_into("log_softmax", &x, axis, &mut out, log_softmax_lane);
}

/// [`log_softmax`] in place along `axis`.
///
/// # Panics
/// If `axis` is not an axis of `x`.
///
/// ```
/// use graph_runtime::kernels::softmax::{log_softmax, log_softmax_inplace};
/// use ndarray::array;
///
/// let x = array![[1e4_f32, 0.0], [1.0, 2.0]];
/// let mut y = x.clone();
/// log_softmax_inplace(y.view_mut(), 1);
/// assert_eq!(y, log_softmax(x.view(), 1));
/// ```
#[track_caller]
pub fn log_softmax_inplace<D: Dimension>(mut x: ArrayViewMut<'_, f32, D>, axis: usize) {
    if axis >= x.ndim() {
        shape_panic("log_softmax", &[x.shape(), &[axis]]);
    }
    for mut lane in x.lanes_mut(Axis(axis)) {
        let m = lane_max(lane.view());
        let log_total = narrow(shifted_exp_sum(lane.view(), m).ln());
        lane.mapv_inplace(|v| (v - m) - log_total);
    }
}

/// [`logsumexp`] into caller storage of the result's shape (`x`'s without
/// `axis`, or with it of length 1 if `keep_dims`).
///
/// # Panics
/// If `axis` is not an axis of `x`, or `out` does not have the result's
/// shape.
///
/// ```
/// use graph_runtime::kernels::softmax::logsumexp_into;
/// use ndarray::{array, Array2};
///
/// let x = array![[0.0_f32, 0.0], [1e4, 1e4]];
/// let mut out = Array2::zeros((2, 1));
/// logsumexp_into(x.view(), 1, true, out.view_mut());
/// assert_eq!(out, array![[2.0_f32.ln()], [1e4 + 2.0_f32.ln()]]);
/// ```
#[track_caller]
pub fn logsumexp_into<D: Dimension, O: Dimension>(
    x: ArrayView<'_, f32, D>,
    axis: usize,
    keep_dims: bool,
    out: ArrayViewMut<'_, f32, O>,
) {
    let fits = axis < x.ndim()
        && if keep_dims {
            out.ndim() == x.ndim()
                && (0..x.ndim()).all(|k| {
                    let expected = if k == axis { 1 } else { x.len_of(Axis(k)) };
                    out.len_of(Axis(k)) == expected
                })
        } else {
            out.ndim() + 1 == x.ndim()
                && (0..out.ndim()).all(|k| {
                    let source = if k < axis { k } else { k + 1 };
                    out.len_of(Axis(k)) == x.len_of(Axis(source))
                })
        };
    if !fits {
        shape_panic("logsumexp", &[x.shape(), &[axis], out.shape()]);
    }
    if keep_dims {
        let Ok(mut out) = out.into_dimensionality::<D>() else {
            unreachable!("`out` was checked to have x's rank")
        };
        // Each lane of `out` along `axis` holds the one result.
        Zip::from(out.lanes_mut(Axis(axis)))
            .and(x.lanes(Axis(axis)))
            .for_each(|mut o, lane| o[0] = lane_logsumexp(lane));
    } else {
        let Ok(out) = out.into_dimensionality::<D::Smaller>() else {
            unreachable!("`out` was checked to have one axis less than x")
        };
        Zip::from(out)
            .and(x.lanes(Axis(axis)))
            .for_each(|o, lane| *o = lane_logsumexp(lane));
    }
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
