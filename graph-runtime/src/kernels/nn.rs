//! Neural-network layers that are not window ops: normalisations over the
//! last axis and row lookup (embedding / gather).
//!
//! The normalisations treat the last axis as features (channels): their
//! per-feature parameters are vectors as long as that axis. Lookup indices
//! are data, so an out-of-range index is an [`Error`], never a panic.
//!
//! Each kernel has an `_into` form writing into caller storage of the
//! result's shape, for operands of any layout. The normalisations never
//! allocate; `gather_into` allocates only to report an error, or when its
//! operands are not in standard layout and have more than four axes.

use ndarray::{Array, ArrayView, ArrayView1, ArrayViewMut, Axis, Dimension, Zip};

use super::binary::dim_from_shape;
use super::shape_panic;
use crate::Error;

/// Channels per block of precomputed batch-norm gains, kept on the stack.
const GAIN_BLOCK: usize = 64;

/// Batch normalisation, inference form, over the last axis (channels `c`):
/// `out[.., c] = (x[.., c] − mean[c]) / √(variance[c] + ε) · scale[c] + offset[c]`,
/// with the moving statistics given (TensorFlow's `batch_normalization`).
///
/// # Panics
/// If `x` has rank 0, or a parameter's length is not `x`'s last axis.
///
/// ```
/// use graph_runtime::kernels::nn::batch_norm;
/// use ndarray::array;
///
/// let x = array![[1.0_f32, 10.0], [3.0, 30.0]];
/// let y = batch_norm(
///     x.view(),
///     array![2.0_f32, 20.0].view(), // mean
///     array![4.0_f32, 100.0].view(), // variance
///     array![1.0_f32, 2.0].view(), // scale
///     array![0.0_f32, 1.0].view(), // offset
///     0.0,
/// );
/// assert_eq!(y, array![[-0.5, -1.0], [0.5, 3.0]]);
/// ```
#[track_caller]
#[must_use]
pub fn batch_norm<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    mean: ArrayView1<'_, f32>,
    variance: ArrayView1<'_, f32>,
    scale: ArrayView1<'_, f32>,
    offset: ArrayView1<'_, f32>,
    epsilon: f32,
) -> Array<f32, D> {
    let mut out = Array::zeros(x.raw_dim());
    batch_norm_into(x, mean, variance, scale, offset, epsilon, out.view_mut());
    out
}

/// Layer normalisation over the last axis: with `μ` and `σ²` the mean and
/// (biased) variance of each last-axis lane,
/// `out[.., i] = (x[.., i] − μ) / √(σ² + ε) · gamma[i] + beta[i]`.
/// The statistics are computed in `f64`.
///
/// # Panics
/// If `x` has rank 0, or `gamma` or `beta` is not as long as `x`'s last axis.
///
/// ```
/// use graph_runtime::kernels::nn::layer_norm;
/// use ndarray::array;
///
/// let x = array![[1.0_f32, 3.0], [5.0, 5.0]];
/// let y = layer_norm(x.view(), array![1.0_f32, 1.0].view(), array![0.0_f32, 0.5].view(), 0.0);
/// assert_eq!(y.row(0), array![-1.0, 1.5]);
/// // A constant lane has no spread: with ε = 0 it is 0 / 0.
/// assert!(y[[1, 0]].is_nan());
/// ```
#[track_caller]
#[must_use]
pub fn layer_norm<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    gamma: ArrayView1<'_, f32>,
    beta: ArrayView1<'_, f32>,
    epsilon: f32,
) -> Array<f32, D> {
    let mut out = Array::zeros(x.raw_dim());
    layer_norm_into(x, gamma, beta, epsilon, out.view_mut());
    out
}

/// Gathers rows of `params` (embedding lookup): for indices of shape `[i…]`
/// and params of shape `[v, r…]`, `out[i…, r…] = params[indices[i…], r…]`, of
/// shape `[i…, r…]` (TensorFlow's `gather` on axis 0). With a `[v, d]` table
/// this maps token ids to `d`-dimensional embeddings.
///
/// `name` is the graph's name for `indices`, used in the error.
///
/// # Errors
/// [`Error::IndexOutOfRange`] naming `name`, the first index (in row-major
/// order) that is `≥ v`, its position in `indices`, and `v`.
///
/// # Panics
/// If `params` has rank 0, or `O`'s rank is not
/// `indices` rank + `params` rank − 1.
///
/// ```
/// use graph_runtime::kernels::nn::gather;
/// use ndarray::{array, Array3};
///
/// let table = array![[0.0_f32, 0.5], [1.0, 1.5], [2.0, 2.5]];
/// let ids = array![[2, 0], [1, 1]];
/// let y: Array3<f32> = gather(table.view(), ids.view(), "ids").unwrap();
/// assert_eq!(y.shape(), &[2, 2, 2]);
/// assert_eq!(y[[0, 0, 1]], 2.5);
///
/// let bad = gather::<ndarray::Ix3>(table.view(), array![[0, 3]].view(), "ids");
/// assert_eq!(
///     bad.unwrap_err().to_string(),
///     "tensor `ids` holds index 3 at position [0, 1], but its indices must be less than 3"
/// );
/// ```
#[track_caller]
pub fn gather<O: Dimension>(
    params: ArrayView<'_, f32, impl Dimension>,
    indices: ArrayView<'_, usize, impl Dimension>,
    name: &'static str,
) -> Result<Array<f32, O>, Error> {
    let Some((_, row_shape)) = params.shape().split_first() else {
        shape_panic("gather", &[params.shape(), indices.shape()])
    };
    let shape: Vec<usize> = indices.shape().iter().chain(row_shape).copied().collect();
    let dim: O = dim_from_shape("gather", &[params.shape(), indices.shape()], &shape);
    let mut out = Array::zeros(dim);
    gather_into(params, indices, name, out.view_mut())?;
    Ok(out)
}

/// [`batch_norm`] into caller storage of `x`'s shape, with no allocation.
///
/// # Panics
/// As [`batch_norm`], and if `out` does not have `x`'s shape.
///
/// ```
/// use graph_runtime::kernels::nn::{batch_norm, batch_norm_into};
/// use ndarray::{array, Array2};
///
/// let x = array![[1.0_f32, 10.0], [3.0, 30.0]];
/// let (m, v, s, o) = (array![2.0_f32, 20.0], array![4.0_f32, 100.0], array![1.0_f32, 2.0], array![0.0_f32, 1.0]);
/// let mut out = Array2::zeros((2, 2));
/// batch_norm_into(x.view(), m.view(), v.view(), s.view(), o.view(), 0.0, out.view_mut());
/// assert_eq!(out, batch_norm(x.view(), m.view(), v.view(), s.view(), o.view(), 0.0));
/// ```
#[track_caller]
pub fn batch_norm_into<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    mean: ArrayView1<'_, f32>,
    variance: ArrayView1<'_, f32>,
    scale: ArrayView1<'_, f32>,
    offset: ArrayView1<'_, f32>,
    epsilon: f32,
    mut out: ArrayViewMut<'_, f32, D>,
) {
    let shapes = [
        x.shape(),
        mean.shape(),
        variance.shape(),
        scale.shape(),
        offset.shape(),
        out.shape(),
    ];
    let Some(&channels) = x.shape().last() else {
        shape_panic("batch_norm", &shapes[..5])
    };
    if [mean.len(), variance.len(), scale.len(), offset.len()]
        .iter()
        .any(|&len| len != channels)
    {
        shape_panic("batch_norm", &shapes[..5]);
    }
    if x.shape() != out.shape() {
        shape_panic("batch_norm", &shapes);
    }
    let last = Axis(x.ndim() - 1);
    // Per channel: out = (x − mean)·gain + offset, with the gains of a block
    // of channels computed once on the stack.
    let mut gains = [0.0_f32; GAIN_BLOCK];
    for start in (0..channels).step_by(GAIN_BLOCK) {
        let end = (start + GAIN_BLOCK).min(channels);
        let block = ndarray::Slice::from(start..end);
        let gain = &mut gains[..end - start];
        Zip::from(&mut *gain)
            .and(variance.slice_axis(Axis(0), block))
            .and(scale.slice_axis(Axis(0), block))
            .for_each(|g, &v, &s| *g = s / (v + epsilon).sqrt());
        let gain = ndarray::aview1(gain);
        let mean = mean.slice_axis(Axis(0), block);
        let offset = offset.slice_axis(Axis(0), block);
        Zip::from(out.slice_axis_mut(last, block).lanes_mut(last))
            .and(x.slice_axis(last, block).lanes(last))
            .for_each(|out, lane| {
                Zip::from(out)
                    .and(&lane)
                    .and(&mean)
                    .and(&gain)
                    .and(&offset)
                    .for_each(|o, &v, &m, &g, &b| *o = (v - m) * g + b);
            });
    }
}

/// [`layer_norm`] into caller storage of `x`'s shape, with no allocation.
///
/// # Panics
/// As [`layer_norm`], and if `out` does not have `x`'s shape.
///
/// ```
/// use graph_runtime::kernels::nn::{layer_norm, layer_norm_into};
/// use ndarray::{array, Array2};
///
/// let x = array![[1.0_f32, 3.0], [5.0, 2.0]];
/// let (g, b) = (array![1.0_f32, 2.0], array![0.0_f32, 0.5]);
/// let mut out = Array2::zeros((2, 2));
/// layer_norm_into(x.t(), g.view(), b.view(), 1e-5, out.view_mut());
/// assert_eq!(out, layer_norm(x.t(), g.view(), b.view(), 1e-5));
/// ```
#[track_caller]
pub fn layer_norm_into<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    gamma: ArrayView1<'_, f32>,
    beta: ArrayView1<'_, f32>,
    epsilon: f32,
    mut out: ArrayViewMut<'_, f32, D>,
) {
    let features = x.shape().last().copied();
    if Some(gamma.len()) != features || Some(beta.len()) != features || x.shape() != out.shape() {
        shape_panic(
            "layer_norm",
            &[x.shape(), gamma.shape(), beta.shape(), out.shape()],
        );
    }
    let last = Axis(x.ndim() - 1);
    Zip::from(out.lanes_mut(last))
        .and(x.lanes(last))
        .for_each(|mut out, lane| {
            let count = lane.len() as f64;
            let mu = lane.iter().map(|&v| f64::from(v)).sum::<f64>() / count;
            let variance = lane
                .iter()
                .map(|&v| (f64::from(v) - mu).powi(2))
                .sum::<f64>()
                / count;
            let inverse = 1.0 / (variance + f64::from(epsilon)).sqrt();
            Zip::from(&mut out)
                .and(&lane)
                .and(&gamma)
                .and(&beta)
                .for_each(|o, &v, &g, &b| *o = narrow((f64::from(v) - mu) * inverse) * g + b);
        });
}

/// [`gather`] into caller storage of shape `[i…, r…]`. Allocates nothing
/// for operands in standard layout (the generated code's), or of at most
/// four axes, except to report an error.
///
/// # Errors
/// As [`gather`]; `out` is left unchanged.
///
/// # Panics
/// As [`gather`], and if `out` does not have the result's shape.
///
/// ```
/// use graph_runtime::kernels::nn::gather_into;
/// use ndarray::{array, Array2};
///
/// let table = array![[0.0_f32, 0.5], [1.0, 1.5], [2.0, 2.5]];
/// let mut out = Array2::zeros((3, 2));
/// gather_into(table.view(), array![2, 0, 2].view(), "ids", out.view_mut()).unwrap();
/// assert_eq!(out, array![[2.0, 2.5], [0.0, 0.5], [2.0, 2.5]]);
/// ```
#[track_caller]
pub fn gather_into<O: Dimension>(
    params: ArrayView<'_, f32, impl Dimension>,
    indices: ArrayView<'_, usize, impl Dimension>,
    name: &'static str,
    out: ArrayViewMut<'_, f32, O>,
) -> Result<(), Error> {
    let shapes = [params.shape(), indices.shape(), out.shape()];
    let Some((&rows, row_shape)) = params.shape().split_first() else {
        shape_panic("gather", &shapes)
    };
    let fits = out.ndim() == indices.ndim() + row_shape.len()
        && out
            .shape()
            .iter()
            .zip(indices.shape().iter().chain(row_shape))
            .all(|(a, b)| a == b);
    if !fits {
        shape_panic("gather", &shapes);
    }
    if let Some(&index) = indices.iter().find(|&&index| index >= rows) {
        // The error path may allocate: find where the index sits.
        let indices = indices.into_dyn();
        let position = indices
            .indexed_iter()
            .find(|&(_, &i)| i >= rows)
            .map_or_else(Vec::new, |(position, _)| position.as_array_view().to_vec());
        return Err(Error::IndexOutOfRange {
            tensor: name,
            index,
            position,
            bound: rows,
        });
    }
    let row_len: usize = row_shape.iter().product();
    if out.is_standard_layout() && params.is_standard_layout() {
        // One row of `params` per index, copied row to row.
        let flat_out = out.into_shape_with_order((indices.len(), row_len));
        let flat_params = params.into_shape_with_order((rows, row_len));
        let (Ok(mut flat_out), Ok(flat_params)) = (flat_out, flat_params) else {
            unreachable!("standard-layout views flatten")
        };
        for (mut target, &index) in flat_out.outer_iter_mut().zip(indices.iter()) {
            target.assign(&flat_params.index_axis(Axis(0), index));
        }
    } else {
        // Other layouts: walk the rows through dynamic views.
        let mut out = out.into_dyn();
        let params = params.into_dyn();
        let lead = indices.ndim();
        for (position, &index) in indices.into_dyn().indexed_iter() {
            let mut target = out.view_mut();
            for axis in 0..lead {
                target = target.index_axis_move(Axis(0), position[axis]);
            }
            target.assign(&params.index_axis(Axis(0), index));
        }
    }
    Ok(())
}

#[allow(clippy::cast_possible_truncation)] // Rounding the f64 statistics is the point.
fn narrow(x: f64) -> f32 {
    x as f32
}

/// One-hot encoding (TensorFlow's `one_hot` with its defaults): for indices
/// of shape `[i…]`, `out[i…, j] = 1` where `indices[i…] == j` and `0`
/// elsewhere, of shape `[i…, depth]`.
///
/// **An index `≥ depth` gives a row of zeros**, as in `tf.one_hot`: never an
/// error, never a panic. (Class labels are data; the cross-entropy kernels
/// report out-of-range labels as [`Error::IndexOutOfRange`] themselves.)
///
/// ```
/// use graph_runtime::kernels::nn::one_hot;
/// use ndarray::array;
///
/// let y = one_hot(array![2, 0, 7].view(), 3);
/// assert_eq!(y, array![[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]);
/// ```
#[must_use]
pub fn one_hot<D: Dimension>(
    indices: ArrayView<'_, usize, D>,
    depth: usize,
) -> Array<f32, D::Larger> {
    let shape: Vec<usize> = indices
        .shape()
        .iter()
        .copied()
        .chain(core::iter::once(depth))
        .collect();
    let dim: D::Larger = dim_from_shape("one_hot", &[indices.shape()], &shape);
    let mut out = Array::zeros(dim);
    one_hot_into(indices, depth, out.view_mut());
    out
}

/// [`one_hot`] into caller storage of shape `[i…, depth]`, for operands of
/// any layout, with no allocation. Every element of `out` is written.
///
/// # Panics
/// If `out` does not have the shape `[i…, depth]`.
///
/// ```
/// use graph_runtime::kernels::nn::one_hot_into;
/// use ndarray::{array, Array3};
///
/// let mut out = Array3::from_elem((2, 1, 2), f32::NAN);
/// one_hot_into(array![[1], [5]].view(), 2, out.view_mut());
/// assert_eq!(out, array![[[0.0, 1.0]], [[0.0, 0.0]]]);
/// ```
#[track_caller]
pub fn one_hot_into<D: Dimension>(
    indices: ArrayView<'_, usize, D>,
    depth: usize,
    mut out: ArrayViewMut<'_, f32, D::Larger>,
) {
    let fits = out
        .shape()
        .split_last()
        .is_some_and(|(&last, lead)| last == depth && lead == indices.shape());
    if !fits {
        shape_panic("one_hot", &[indices.shape(), out.shape()]);
    }
    if let (Some(out), Some(indices)) = (out.as_slice_mut(), indices.as_slice()) {
        crate::flat::one_hot(indices, depth, out);
        return;
    }
    out.fill(0.0);
    let axis = Axis(out.ndim() - 1);
    // Lanes along the last axis come in the row-major order of `indices`.
    for (mut lane, &index) in out.lanes_mut(axis).into_iter().zip(indices.iter()) {
        if let Some(hot) = lane.get_mut(index) {
            *hot = 1.0;
        }
    }
}

/// The backward pass of [`gather`] (a scatter-add): the gradient of the
/// table `params`, given `grad`, the gradient of `gather`'s result.
///
/// For `grad` of shape `[i…, r…]` and indices of shape `[i…]`, `out` has
/// the table's shape `[v, r…]`; it is zeroed, then every row `grad[i…]` is
/// added into `out[indices[i…]]`, so a row gathered several times receives
/// the sum of its gradients (added in f32, in the row-major order of
/// `indices`) and a row never gathered gets zeros. Allocates nothing for
/// operands in standard layout (the generated code's), or of at most four
/// axes, except to report an error.
///
/// `name` is the graph's name for `indices`, used in the error.
///
/// # Errors
/// [`Error::IndexOutOfRange`] as [`gather`] reports it: naming `name`, the
/// first index (in row-major order) that is `≥ v`, its position in
/// `indices`, and `v`. `out` is left unchanged.
///
/// # Panics
/// If `out` has rank 0, or `grad`'s shape is not `indices`' shape followed
/// by `out`'s shape without its first axis.
///
/// ```
/// use graph_runtime::kernels::nn::gather_grad_into;
/// use ndarray::{array, Array2};
///
/// // gather(table, [2, 0, 2]) read rows 2, 0 and 2 of a [4, 2] table.
/// let grad = array![[1.0_f32, 2.0], [3.0, 4.0], [5.0, 6.0]];
/// let mut out = Array2::from_elem((4, 2), f32::NAN);
/// gather_grad_into(grad.view(), array![2, 0, 2].view(), "ids", out.view_mut()).unwrap();
/// assert_eq!(out, array![[3.0, 4.0], [0.0, 0.0], [6.0, 8.0], [0.0, 0.0]]);
///
/// let bad = gather_grad_into(grad.view(), array![2, 4, 0].view(), "ids", out.view_mut());
/// assert_eq!(
///     bad.unwrap_err().to_string(),
///     "tensor `ids` holds index 4 at position [1], but its indices must be less than 4"
/// );
/// ```
#[track_caller]
pub fn gather_grad_into<O: Dimension>(
    grad: ArrayView<'_, f32, impl Dimension>,
    indices: ArrayView<'_, usize, impl Dimension>,
    name: &'static str,
    mut out: ArrayViewMut<'_, f32, O>,
) -> Result<(), Error> {
    let shapes = [grad.shape(), indices.shape(), out.shape()];
    let Some((&rows, row_shape)) = out.shape().split_first() else {
        shape_panic("gather_grad", &shapes)
    };
    let fits = grad.ndim() == indices.ndim() + row_shape.len()
        && grad
            .shape()
            .iter()
            .zip(indices.shape().iter().chain(row_shape))
            .all(|(a, b)| a == b);
    if !fits {
        shape_panic("gather_grad", &shapes);
    }
    if let Some(error) = first_index_out_of_range(&indices, rows, name) {
        return Err(error);
    }
    let row_len: usize = row_shape.iter().product();
    out.fill(0.0);
    if out.is_standard_layout() && grad.is_standard_layout() {
        // One row of `grad` per index, added row to row.
        let flat_out = out.into_shape_with_order((rows, row_len));
        let flat_grad = grad.into_shape_with_order((indices.len(), row_len));
        let (Ok(mut flat_out), Ok(flat_grad)) = (flat_out, flat_grad) else {
            unreachable!("standard-layout views flatten")
        };
        for (source, &index) in flat_grad.outer_iter().zip(indices.iter()) {
            flat_out
                .index_axis_mut(Axis(0), index)
                .zip_mut_with(&source, |o, &g| *o += g);
        }
    } else {
        // Other layouts: walk the rows through dynamic views.
        let mut out = out.into_dyn();
        let grad = grad.into_dyn();
        let lead = indices.ndim();
        for (position, &index) in indices.into_dyn().indexed_iter() {
            let mut source = grad.view();
            for axis in 0..lead {
                source = source.index_axis_move(Axis(0), position[axis]);
            }
            out.index_axis_mut(Axis(0), index)
                .zip_mut_with(&source, |o, &g| *o += g);
        }
    }
    Ok(())
}

/// The [`Error::IndexOutOfRange`] for the first index of `indices` (in
/// row-major order) that is `≥ bound`, if any; only this error path
/// allocates.
fn first_index_out_of_range(
    indices: &ArrayView<'_, usize, impl Dimension>,
    bound: usize,
    name: &'static str,
) -> Option<Error> {
    let &index = indices.iter().find(|&&index| index >= bound)?;
    let position = indices
        .view()
        .into_dyn()
        .indexed_iter()
        .find(|&(_, &i)| i >= bound)
        .map_or_else(Vec::new, |(position, _)| position.as_array_view().to_vec());
    Some(Error::IndexOutOfRange {
        tensor: name,
        index,
        position,
        bound,
    })
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // Expected values are exact by construction.
mod tests {
    use super::*;
    use ndarray::{array, Array0, Array1, Array2, Array3};

    #[test]
    fn gather_reports_first_bad_index_in_row_major_order() {
        let table = Array2::<f32>::zeros((4, 2));
        let ids = array![[0, 9], [5, 1]];
        let err = gather::<ndarray::Ix3>(table.view(), ids.t(), "tokens").unwrap_err();
        // ids.t() is [[0, 5], [9, 1]]: 5 at [0, 1] comes first.
        assert_eq!(
            err,
            Error::IndexOutOfRange {
                tensor: "tokens",
                index: 5,
                position: vec![0, 1],
                bound: 4
            }
        );
    }

    #[test]
    fn gather_ranks() {
        let table = array![[1.0_f32, 2.0], [3.0, 4.0]];
        let scalar_id: Array1<f32> = gather(table.view(), ndarray::aview0(&1), "i").unwrap();
        assert_eq!(scalar_id, array![3.0, 4.0]);
        let vector_table = array![5.0_f32, 6.0, 7.0];
        let picked: Array1<f32> = gather(vector_table.view(), array![2, 2, 0].view(), "i").unwrap();
        assert_eq!(picked, array![7.0, 7.0, 5.0]);
        let none: Array3<f32> =
            gather(table.view(), Array2::<usize>::zeros((0, 3)).view(), "i").unwrap();
        assert_eq!(none.shape(), &[0, 3, 2]);
        let empty_table = Array2::<f32>::zeros((0, 2));
        assert!(gather::<ndarray::Ix2>(empty_table.view(), array![0].view(), "i").is_err());
    }

    #[test]
    fn norms_propagate_nan_within_lane() {
        let x = array![[f32::NAN, 1.0], [1.0, 3.0]];
        let ones = array![1.0_f32, 1.0];
        let zeros = array![0.0_f32, 0.0];
        let y = layer_norm(x.view(), ones.view(), zeros.view(), 1e-5);
        assert!(y.row(0).iter().all(|v| v.is_nan()) && y.row(1).iter().all(|v| v.is_finite()));
        let b = batch_norm(
            x.view(),
            zeros.view(),
            ones.view(),
            ones.view(),
            zeros.view(),
            0.0,
        );
        assert!(b[[0, 0]].is_nan() && b[[0, 1]] == 1.0);
    }

    #[test]
    #[should_panic(
        expected = "kernel `batch_norm` called with operands of incompatible shapes [[2, 3], [2], [3], [3], [3]]"
    )]
    fn batch_norm_parameter_length_panics() {
        let c = Array1::<f32>::zeros(3);
        let _ = batch_norm(
            Array2::<f32>::zeros((2, 3)).view(),
            Array1::zeros(2).view(),
            c.view(),
            c.view(),
            c.view(),
            0.0,
        );
    }

    #[test]
    #[should_panic(expected = "kernel `layer_norm`")]
    fn layer_norm_of_scalar_panics() {
        let v = Array1::<f32>::zeros(1);
        let _ = layer_norm(Array0::<f32>::zeros(()).view(), v.view(), v.view(), 0.0);
    }
}
