//! Neural-network layers that are not window ops: normalisations over the
//! last axis and row lookup (embedding / gather).
//!
//! The normalisations treat the last axis as features (channels): their
//! per-feature parameters are vectors as long as that axis. Lookup indices
//! are data, so an out-of-range index is an [`Error`], never a panic.

use ndarray::{Array, Array1, ArrayView, ArrayView1, Axis, Dimension, Zip};

use super::binary::{dim_from_shape, stretch};
use super::shape_panic;
use crate::Error;

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
    let shapes = [
        x.shape(),
        mean.shape(),
        variance.shape(),
        scale.shape(),
        offset.shape(),
    ];
    let channels = x.shape().last().copied();
    if [mean.len(), variance.len(), scale.len(), offset.len()]
        .iter()
        .any(|&len| Some(len) != channels)
    {
        shape_panic("batch_norm", &shapes);
    }
    // Per channel: out = (x − mean)·gain + offset.
    let gain: Array1<f32> = Zip::from(&variance)
        .and(&scale)
        .map_collect(|&v, &s| s / (v + epsilon).sqrt());
    let dim = x.raw_dim();
    let mean = stretch("batch_norm", &shapes, &mean, &dim);
    let gain = gain.view();
    let gain = stretch("batch_norm", &shapes, &gain, &dim);
    let offset = stretch("batch_norm", &shapes, &offset, &dim);
    Zip::from(&x)
        .and(&mean)
        .and(&gain)
        .and(&offset)
        .map_collect(|&v, &m, &g, &o| (v - m) * g + o)
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
    let features = x.shape().last().copied();
    if Some(gamma.len()) != features || Some(beta.len()) != features {
        shape_panic("layer_norm", &[x.shape(), gamma.shape(), beta.shape()]);
    }
    let last = Axis(x.ndim() - 1);
    let mut out = Array::zeros(x.raw_dim());
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
    let Some((&rows, row_shape)) = params.shape().split_first() else {
        shape_panic("gather", &[params.shape(), indices.shape()])
    };
    let shape: Vec<usize> = indices.shape().iter().chain(row_shape).copied().collect();
    let dim: O = dim_from_shape("gather", &[params.shape(), indices.shape()], &shape);
    let indices = indices.into_dyn();
    if let Some((position, &index)) = indices.indexed_iter().find(|&(_, &index)| index >= rows) {
        return Err(Error::IndexOutOfRange {
            tensor: name,
            index,
            position: position.as_array_view().to_vec(),
            bound: rows,
        });
    }
    let row_len: usize = row_shape.iter().product();
    let params = params.into_dyn();
    let mut data = Vec::with_capacity(indices.len() * row_len);
    for &index in &indices {
        data.extend(params.index_axis(Axis(0), index).iter().copied());
    }
    match Array::from_shape_vec(dim, data) {
        Ok(out) => Ok(out),
        Err(_) => shape_panic("gather", &[params.shape(), indices.shape()]),
    }
}

#[allow(clippy::cast_possible_truncation)] // Rounding the f64 statistics is the point.
fn narrow(x: f64) -> f32 {
    x as f32
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
