//! Batched matrix products over rank-3 operands, as numpy's `matmul` defines
//! them: axis 0 indexes independent matrices, and each product is an ordinary
//! [`linalg::matmul`](super::linalg::matmul) of the last two axes.

use ndarray::{Array3, ArrayView2, ArrayView3, ArrayViewMut3, Axis};

use super::dense::{product, Activation, Kernels};
use super::shape_panic;

/// [`batch_matmul`] into caller storage, with no allocation.
///
/// # Panics
/// As [`batch_matmul`], and if `out` is not `[B, m, n]`.
///
/// ```
/// use graph_runtime::kernels::batched::batch_matmul_into;
/// use ndarray::{array, Array3};
///
/// let a = array![[[1.0_f32, 2.0]], [[3.0, 4.0]]]; // [2, 1, 2]
/// let b = array![[[1.0_f32], [1.0]]]; // [1, 2, 1], shared by both
/// let mut out = Array3::zeros((2, 1, 1));
/// batch_matmul_into(a.view(), b.view(), out.view_mut());
/// assert_eq!(out, array![[[3.0]], [[7.0]]]);
/// ```
#[track_caller]
pub fn batch_matmul_into(
    a: ArrayView3<'_, f32>,
    b: ArrayView3<'_, f32>,
    mut out: ArrayViewMut3<'_, f32>,
) {
    let (a_batch, rows, inner) = a.dim();
    let (b_batch, b_inner, cols) = b.dim();
    let batch = match (a_batch, b_batch) {
        _ if a_batch == b_batch => a_batch,
        (1, other) | (other, 1) => other,
        _ => shape_panic("batch_matmul", &[a.shape(), b.shape(), out.shape()]),
    };
    if inner != b_inner || out.dim() != (batch, rows, cols) {
        shape_panic("batch_matmul", &[a.shape(), b.shape(), out.shape()]);
    }
    for (p, product_out) in out.outer_iter_mut().enumerate() {
        let left = a.index_axis(Axis(0), if a_batch == 1 { 0 } else { p });
        let right = b.index_axis(Axis(0), if b_batch == 1 { 0 } else { p });
        product(
            left,
            right,
            None,
            Activation::Identity,
            product_out,
            false,
            Kernels::Simd,
        );
    }
}

/// [`batch_matmul_shared`] into caller storage, with no allocation.
///
/// # Panics
/// As [`batch_matmul_shared`], and if `out` is not `[B, m, n]`.
///
/// ```
/// use graph_runtime::kernels::batched::batch_matmul_shared_into;
/// use ndarray::{array, Array3};
///
/// let a = array![[[1.0_f32, 2.0]], [[3.0, 4.0]]]; // [2, 1, 2]
/// let w = array![[1.0_f32, 0.0], [0.0, 2.0]];
/// let mut out = Array3::zeros((2, 1, 2));
/// batch_matmul_shared_into(a.view(), w.view(), out.view_mut());
/// assert_eq!(out, array![[[1.0, 4.0]], [[3.0, 8.0]]]);
/// ```
#[track_caller]
pub fn batch_matmul_shared_into(
    a: ArrayView3<'_, f32>,
    b: ArrayView2<'_, f32>,
    mut out: ArrayViewMut3<'_, f32>,
) {
    let (batch, m, k) = a.dim();
    if k != b.nrows() || out.dim() != (batch, m, b.ncols()) {
        shape_panic("batch_matmul_shared", &[a.shape(), b.shape(), out.shape()]);
    }
    // All positions as one product when both sides merge their first two
    // axes (row-major operands): one pass over `b` for the whole batch.
    let merged_out = out.view_mut().into_shape_with_order((batch * m, b.ncols()));
    if let (Ok(left), Ok(result)) = (a.into_shape_with_order((batch * m, k)), merged_out) {
        product(
            left,
            b,
            None,
            Activation::Identity,
            result,
            false,
            Kernels::Simd,
        );
        return;
    }
    for (left, result) in a.outer_iter().zip(out.outer_iter_mut()) {
        product(
            left,
            b,
            None,
            Activation::Identity,
            result,
            false,
            Kernels::Simd,
        );
    }
}

/// Batched matrix product: `out[p, i, j] = Σ_k a[p, i, k] · b[p, k, j]`.
///
/// A batch size of 1 on either side broadcasts against the other, as in
/// numpy (`[1, m, k] × [B, k, n] → [B, m, n]`).
///
/// # Panics
/// If `a` is `[B, m, k]`, `b` must be `[B, k, n]` (or have batch size 1, or
/// `a` have it).
///
/// ```
/// use graph_runtime::kernels::batched::batch_matmul;
/// use ndarray::array;
///
/// let a = array![[[1.0_f32, 2.0]], [[3.0, 4.0]]]; // [2, 1, 2]
/// let b = array![[[1.0_f32], [1.0]], [[0.0], [1.0]]]; // [2, 2, 1]
/// assert_eq!(batch_matmul(a.view(), b.view()), array![[[3.0]], [[4.0]]]);
/// ```
#[track_caller]
#[must_use]
pub fn batch_matmul(a: ArrayView3<'_, f32>, b: ArrayView3<'_, f32>) -> Array3<f32> {
    let (a_batch, rows, inner) = a.dim();
    let (b_batch, b_inner, cols) = b.dim();
    let batch = match (a_batch, b_batch) {
        _ if a_batch == b_batch => a_batch,
        (1, other) | (other, 1) => other,
        _ => shape_panic("batch_matmul", &[a.shape(), b.shape()]),
    };
    if inner != b_inner {
        shape_panic("batch_matmul", &[a.shape(), b.shape()]);
    }
    let mut out = Array3::zeros((batch, rows, cols));
    batch_matmul_into(a, b, out.view_mut());
    out
}

/// Batch of matrices times one shared matrix:
/// `out[p, i, j] = Σ_k a[p, i, k] · b[k, j]` (`[B, m, k] × [k, n] → [B, m, n]`,
/// as a dense layer applied to every position of a sequence).
///
/// # Panics
/// If `a` is `[B, m, k]`, `b` must be `[k, n]`.
///
/// ```
/// use graph_runtime::kernels::batched::batch_matmul_shared;
/// use ndarray::array;
///
/// let a = array![[[1.0_f32, 2.0]], [[3.0, 4.0]]]; // [2, 1, 2]
/// let w = array![[1.0_f32, 0.0], [0.0, 2.0]];
/// assert_eq!(batch_matmul_shared(a.view(), w.view()), array![[[1.0, 4.0]], [[3.0, 8.0]]]);
/// ```
#[track_caller]
#[must_use]
pub fn batch_matmul_shared(a: ArrayView3<'_, f32>, b: ArrayView2<'_, f32>) -> Array3<f32> {
    let (batch, m, k) = a.dim();
    if k != b.nrows() {
        shape_panic("batch_matmul_shared", &[a.shape(), b.shape()]);
    }
    let mut out = Array3::zeros((batch, m, b.ncols()));
    batch_matmul_shared_into(a, b, out.view_mut());
    out
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // Expected values are exact by construction.
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    #[test]
    fn broadcast_batch_and_transposed_operands() {
        let a = array![[[1.0_f32, 2.0], [3.0, 4.0]]]; // [1, 2, 2]
        let b = array![[[1.0_f32, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]]; // [2, 2, 2]
        let y = batch_matmul(a.view(), b.view());
        assert_eq!(
            y,
            array![[[1.0, 2.0], [3.0, 4.0]], [[2.0, 1.0], [4.0, 3.0]]]
        );
        // Swapping the last two axes of `a` gives per-batch transposes.
        let t = a.view().permuted_axes([0, 2, 1]);
        assert_eq!(
            batch_matmul(t, b.view()).index_axis(Axis(0), 0),
            array![[1.0, 3.0], [2.0, 4.0]]
        );
    }

    #[test]
    fn empty_sizes() {
        let a = Array3::<f32>::zeros((3, 2, 0));
        let b = Array3::<f32>::zeros((3, 0, 4));
        assert_eq!(
            batch_matmul(a.view(), b.view()),
            Array3::<f32>::zeros((3, 2, 4))
        );
        let none = Array3::<f32>::zeros((0, 2, 3));
        assert_eq!(
            batch_matmul_shared(none.view(), Array2::<f32>::zeros((3, 5)).view()).shape(),
            &[0, 2, 5]
        );
    }

    #[test]
    #[should_panic(
        expected = "kernel `batch_matmul` called with operands of incompatible shapes [[2, 1, 1], [3, 1, 1]]"
    )]
    fn mismatched_batches_panic() {
        let _ = batch_matmul(
            Array3::<f32>::zeros((2, 1, 1)).view(),
            Array3::<f32>::zeros((3, 1, 1)).view(),
        );
    }

    #[test]
    #[should_panic(expected = "kernel `batch_matmul_shared`")]
    fn mismatched_inner_panics() {
        let _ = batch_matmul_shared(
            Array3::<f32>::zeros((2, 1, 3)).view(),
            Array2::<f32>::zeros((2, 1)).view(),
        );
    }
}
