//! What the backward passes of [`nn`](super::nn)'s normalisations need:
//! the input gradient of layer normalisation, the training form of batch
//! normalisation (batch statistics) with its input gradient, and the
//! normalised inputs `x̂` from which `graph!` builds the parameters'
//! gradients as reductions (`d_gamma = Σ_rows grad·x̂`,
//! `d_beta = Σ_rows grad`; likewise `d_scale` and `d_offset`).
//!
//! All work over the last axis (features) of operands of any rank ≥ 1 and
//! any layout, in `f64`, write into caller storage and allocate nothing
//! (batch statistics are kept on the stack, 64 features at a time). Each
//! computes bit for bit what the slice kernel of the same name in
//! [`flat`](crate::flat) does: the formulas are shared.
//!
//! For the inference form [`batch_norm`](super::nn::batch_norm) the
//! gradients are elementwise expressions that `graph!` builds itself.

use ndarray::{ArrayView, ArrayView1, ArrayViewMut, ArrayViewMut1, Axis, Dimension, Slice};

use super::shape_panic;
use crate::flat::{block_of, layer_norm_grad_lane, layer_norm_normalized_lane, Moments, BLOCK};

/// The gradient of [`layer_norm`](super::nn::layer_norm) with respect to
/// `x`, into `out` of `x`'s shape: per last-axis lane, with `μ`, `σ²` its
/// mean and biased variance, `r = 1/√(σ² + ε)`, `x̂ = (x − μ)·r` and
/// `ĝ = grad·gamma`,
/// `out = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))` (means over the lane), computed
/// in `f64` with the statistics recomputed from `x`.
///
/// # Panics
/// If `x` has rank 0, `gamma` is not as long as `x`'s last axis, or `grad`
/// or `out` does not have `x`'s shape.
///
/// ```
/// use graph_runtime::kernels::norm_grad::layer_norm_grad_into;
/// use ndarray::{array, Array2};
///
/// // Each row's gradient is orthogonal to the constant and to x̂ (the
/// // normalisation is invariant under shifts and scalings of the row).
/// let x = array![[1.0_f32, 4.0, 2.0], [0.5, -1.0, 3.0]];
/// let grad = array![[0.3_f32, -1.0, 2.0], [1.0, 0.0, -0.5]];
/// let mut dx = Array2::zeros((2, 3));
/// layer_norm_grad_into(x.view(), array![1.0_f32, 2.0, 0.5].view(), grad.view(), 1e-5, dx.view_mut());
/// for row in dx.rows() {
///     assert!(row.sum().abs() < 1e-6);
/// }
/// ```
#[track_caller]
pub fn layer_norm_grad_into<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    gamma: ArrayView1<'_, f32>,
    grad: ArrayView<'_, f32, D>,
    epsilon: f32,
    mut out: ArrayViewMut<'_, f32, D>,
) {
    let features = x.shape().last().copied();
    if Some(gamma.len()) != features || grad.shape() != x.shape() || out.shape() != x.shape() {
        shape_panic(
            "layer_norm_grad",
            &[x.shape(), gamma.shape(), grad.shape(), out.shape()],
        );
    }
    let last = Axis(x.ndim() - 1);
    for ((lane, grad), out) in x
        .lanes(last)
        .into_iter()
        .zip(grad.lanes(last))
        .zip(out.lanes_mut(last))
    {
        layer_norm_grad_lane(
            lane.iter(),
            gamma.iter(),
            grad.iter(),
            epsilon,
            out.into_iter(),
        );
    }
}

/// The normalised input of [`layer_norm`](super::nn::layer_norm), into
/// `out` of `x`'s shape: `x̂ = (x − μ)/√(σ² + ε)` per last-axis lane (biased
/// variance, `f64` statistics), so that `layer_norm(x) = x̂·gamma + beta`
/// and the parameters' gradients are `Σ_rows grad·x̂` and `Σ_rows grad`.
///
/// # Panics
/// If `x` has rank 0, or `out` does not have `x`'s shape.
///
/// ```
/// use graph_runtime::kernels::norm_grad::layer_norm_normalized_into;
/// use ndarray::{array, Array2};
///
/// let mut out = Array2::zeros((1, 2));
/// layer_norm_normalized_into(array![[1.0_f32, 3.0]].view(), 0.0, out.view_mut());
/// assert_eq!(out, array![[-1.0, 1.0]]);
/// ```
#[track_caller]
pub fn layer_norm_normalized_into<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    epsilon: f32,
    mut out: ArrayViewMut<'_, f32, D>,
) {
    if x.ndim() == 0 || out.shape() != x.shape() {
        shape_panic("layer_norm_normalized", &[x.shape(), out.shape()]);
    }
    let last = Axis(x.ndim() - 1);
    for (lane, out) in x.lanes(last).into_iter().zip(out.lanes_mut(last)) {
        layer_norm_normalized_lane(lane.iter(), epsilon, out.into_iter());
    }
}

/// Batch normalisation, training form (TensorFlow's and Keras's
/// `training=True`): the statistics are the batch's, per feature (last
/// axis) over all other axes, with the biased variance `σ²`:
/// `out = x̂·scale + offset` with `x̂ = (x − μ)/√(σ² + ε)` rounded to `f32`.
/// `mean_out` and `var_out` receive `μ` and the biased `σ²` (rounded to
/// `f32`), for the moving averages; a caller that keeps an unbiased moving
/// variance scales it by `m/(m − 1)`, `m` being the rows.
///
/// With no rows the statistics (and nothing else) are NaN. No allocation.
///
/// # Panics
/// If `x` has rank 0, a parameter or statistic is not as long as `x`'s last
/// axis, or `out` does not have `x`'s shape.
///
/// ```
/// use graph_runtime::kernels::norm_grad::batch_norm_train_into;
/// use ndarray::{array, Array1, Array2};
///
/// let x = array![[1.0_f32, 10.0], [3.0, 30.0]];
/// let (mut out, mut mean, mut var) = (Array2::zeros((2, 2)), Array1::zeros(2), Array1::zeros(2));
/// batch_norm_train_into(
///     x.view(), array![1.0_f32, 2.0].view(), array![0.0_f32, 1.0].view(), 0.0,
///     out.view_mut(), mean.view_mut(), var.view_mut(),
/// );
/// assert_eq!((mean, var), (array![2.0, 20.0], array![1.0, 100.0]));
/// assert_eq!(out, array![[-1.0, -1.0], [1.0, 3.0]]);
/// ```
#[track_caller]
pub fn batch_norm_train_into<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    scale: ArrayView1<'_, f32>,
    offset: ArrayView1<'_, f32>,
    epsilon: f32,
    mut out: ArrayViewMut<'_, f32, D>,
    mut mean_out: ArrayViewMut1<'_, f32>,
    mut var_out: ArrayViewMut1<'_, f32>,
) {
    let features = x.shape().last().copied();
    let fits = [scale.len(), offset.len(), mean_out.len(), var_out.len()]
        .iter()
        .all(|&len| Some(len) == features)
        && out.shape() == x.shape();
    if !fits {
        shape_panic(
            "batch_norm_train",
            &[
                x.shape(),
                scale.shape(),
                offset.shape(),
                out.shape(),
                mean_out.shape(),
                var_out.shape(),
            ],
        );
    }
    let last = Axis(x.ndim() - 1);
    for (start, end) in blocks(x.shape()) {
        let block = Slice::from(start..end);
        let moments = Moments::of(|| block_lanes(&x, last, block), epsilon);
        for (k, (m, v)) in mean_out
            .slice_axis_mut(Axis(0), block)
            .iter_mut()
            .zip(var_out.slice_axis_mut(Axis(0), block))
            .enumerate()
        {
            *m = narrow(moments.mean[k]);
            *v = narrow(moments.variance[k]);
        }
        let affine = (
            &block_of(scale.slice_axis(Axis(0), block)),
            &block_of(offset.slice_axis(Axis(0), block)),
        );
        moments.normalize(
            block_lanes(&x, last, block).zip(block_lanes_mut(&mut out, last, block)),
            Some(affine),
        );
    }
}

/// The normalised input of [`batch_norm_train_into`], into `out` of `x`'s
/// shape: `x̂ = (x − μ)/√(σ² + ε)` with the batch statistics (as there), so
/// that the training forward is `x̂·scale + offset` and the parameters'
/// gradients are `Σ_rows grad·x̂` and `Σ_rows grad`.
///
/// # Panics
/// If `x` has rank 0, or `out` does not have `x`'s shape.
///
/// ```
/// use graph_runtime::kernels::norm_grad::batch_norm_train_normalized_into;
/// use ndarray::{array, Array2};
///
/// let mut out = Array2::zeros((2, 2));
/// batch_norm_train_normalized_into(array![[1.0_f32, 10.0], [3.0, 30.0]].view(), 0.0, out.view_mut());
/// assert_eq!(out, array![[-1.0, -1.0], [1.0, 1.0]]);
/// ```
#[track_caller]
pub fn batch_norm_train_normalized_into<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    epsilon: f32,
    mut out: ArrayViewMut<'_, f32, D>,
) {
    if x.ndim() == 0 || out.shape() != x.shape() {
        shape_panic("batch_norm_train_normalized", &[x.shape(), out.shape()]);
    }
    let last = Axis(x.ndim() - 1);
    for (start, end) in blocks(x.shape()) {
        let block = Slice::from(start..end);
        let moments = Moments::of(|| block_lanes(&x, last, block), epsilon);
        moments.normalize(
            block_lanes(&x, last, block).zip(block_lanes_mut(&mut out, last, block)),
            None,
        );
    }
}

/// The gradient of [`batch_norm_train_into`]'s output with respect to `x`,
/// through the batch statistics, into `out` of `x`'s shape: per feature,
/// with `r = 1/√(σ² + ε)`, `x̂ = (x − μ)·r` and means over the rows,
/// `out = scale·r·(grad − mean(grad) − x̂·mean(grad·x̂))`, in `f64` with the
/// statistics recomputed from `x`.
///
/// # Panics
/// If `x` has rank 0, `scale` is not as long as `x`'s last axis, or `grad`
/// or `out` does not have `x`'s shape.
///
/// ```
/// use graph_runtime::kernels::norm_grad::batch_norm_train_grad_into;
/// use ndarray::{array, Array2};
///
/// // Each feature's gradient sums to 0 over the batch: shifting a feature
/// // of every row shifts its mean with it.
/// let x = array![[1.0_f32, 10.0], [3.0, 30.0], [2.5, -4.0]];
/// let grad = array![[0.5_f32, 1.0], [-2.0, 0.25], [1.0, 1.0]];
/// let mut dx = Array2::zeros((3, 2));
/// batch_norm_train_grad_into(x.view(), array![1.5_f32, -1.0].view(), grad.view(), 1e-3, dx.view_mut());
/// for column in dx.columns() {
///     assert!(column.sum().abs() < 1e-6);
/// }
/// ```
#[track_caller]
pub fn batch_norm_train_grad_into<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    scale: ArrayView1<'_, f32>,
    grad: ArrayView<'_, f32, D>,
    epsilon: f32,
    mut out: ArrayViewMut<'_, f32, D>,
) {
    let features = x.shape().last().copied();
    if Some(scale.len()) != features || grad.shape() != x.shape() || out.shape() != x.shape() {
        shape_panic(
            "batch_norm_train_grad",
            &[x.shape(), scale.shape(), grad.shape(), out.shape()],
        );
    }
    let last = Axis(x.ndim() - 1);
    for (start, end) in blocks(x.shape()) {
        let block = Slice::from(start..end);
        let moments = Moments::of(|| block_lanes(&x, last, block), epsilon);
        let pairs = || block_lanes(&x, last, block).zip(block_lanes(&grad, last, block));
        moments.backward(
            pairs,
            pairs().zip(block_lanes_mut(&mut out, last, block)),
            &block_of(scale.slice_axis(Axis(0), block)),
        );
    }
}

/// The blocks `start..end` of at most [`BLOCK`] features that split the
/// last axis of `shape`.
fn blocks(shape: &[usize]) -> impl Iterator<Item = (usize, usize)> {
    let features = shape.last().copied().unwrap_or(0);
    (0..features)
        .step_by(BLOCK)
        .map(move |start| (start, (start + BLOCK).min(features)))
}

/// The last-axis lanes of `x` in row-major order, each cut to `block`.
fn block_lanes<'a, D: Dimension>(
    x: &'a ArrayView<'_, f32, D>,
    last: Axis,
    block: Slice,
) -> impl Iterator<Item = ArrayView1<'a, f32>> {
    x.lanes(last)
        .into_iter()
        .map(move |lane| lane.slice_axis_move(Axis(0), block))
}

/// The last-axis lanes of `out` in row-major order, each cut to `block`.
fn block_lanes_mut<'a, D: Dimension>(
    out: &'a mut ArrayViewMut<'_, f32, D>,
    last: Axis,
    block: Slice,
) -> impl Iterator<Item = ArrayViewMut1<'a, f32>> {
    out.lanes_mut(last)
        .into_iter()
        .map(move |lane| lane.slice_axis_move(Axis(0), block))
}

#[allow(clippy::cast_possible_truncation)] // Rounding the f64 statistics is the point.
fn narrow(x: f64) -> f32 {
    x as f32
}
