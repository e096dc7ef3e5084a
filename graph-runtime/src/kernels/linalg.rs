//! Matrix products.
//!
//! One kernel per operand ranks, as numpy's `matmul` defines them for 1-D and
//! 2-D operands: a vector on the left acts as a row, on the right as a column,
//! and the added axis is removed from the result. The products run on
//! [`dense`](super::dense)'s kernels (SIMD where the CPU has AVX2 and FMA),
//! and their `_into` forms never allocate.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis};

use super::dense::{product, Activation, Kernels};
use super::shape_panic;

/// Matrix product into caller storage: `out[i, j] = Σ_k a[i, k] · b[k, j]`.
///
/// # Panics
/// If `a` is m × k, `b` must be k × n and `out` must be m × n.
///
/// ```
/// use graph_runtime::kernels::linalg::matmul_into;
/// use ndarray::{array, Array2};
///
/// let a = array![[1.0_f32, 2.0], [3.0, 4.0]];
/// let mut out = Array2::zeros((2, 2));
/// matmul_into(a.view(), a.t(), out.view_mut());
/// assert_eq!(out, array![[5.0, 11.0], [11.0, 25.0]]);
/// ```
#[track_caller]
pub fn matmul_into(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, out: ArrayViewMut2<'_, f32>) {
    if a.ncols() != b.nrows() || out.dim() != (a.nrows(), b.ncols()) {
        shape_panic("matmul", &[a.shape(), b.shape(), out.shape()]);
    }
    product(a, b, None, Activation::Identity, out, false, Kernels::Simd);
}

/// `out = w + scale · a·b` for matrices, `a` read transposed with
/// `transpose_a`: the update the optimizer fuses into one node in
/// `#[no_std]` training steps (`flat::matmul_accumulate`, which works in
/// `w` itself), here for any layout and into separate storage. Plain
/// row-by-row loops; no heap allocation.
///
/// # Panics
/// If `a` (transposed when asked) is m × k, `b` must be k × n and `w` and
/// `out` m × n.
///
/// ```
/// use graph_runtime::kernels::linalg::matmul_accumulate_into;
/// use ndarray::{array, Array2};
///
/// let w = array![[1.0_f32, 0.0], [0.0, 1.0]];
/// let (h, delta) = (array![[2.0_f32, 4.0]], array![[1.0_f32, -1.0]]);
/// let mut out = Array2::zeros((2, 2));
/// matmul_accumulate_into(w.view(), h.view(), delta.view(), true, -0.5, out.view_mut());
/// assert_eq!(out, array![[0.0, 1.0], [-2.0, 3.0]]);
/// ```
#[track_caller]
pub fn matmul_accumulate_into(
    w: ArrayView2<'_, f32>,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    transpose_a: bool,
    scale: f32,
    mut out: ArrayViewMut2<'_, f32>,
) {
    let a = if transpose_a { a.reversed_axes() } else { a };
    if a.ncols() != b.nrows() || w.dim() != (a.nrows(), b.ncols()) || out.dim() != w.dim() {
        shape_panic(
            "matmul_accumulate",
            &[w.shape(), a.shape(), b.shape(), out.shape()],
        );
    }
    out.assign(&w);
    for (mut row, a_row) in out.rows_mut().into_iter().zip(a.rows()) {
        for (&factor, b_row) in a_row.iter().zip(b.rows()) {
            row.scaled_add(scale * factor, &b_row);
        }
    }
}

/// Matrix product: `out[i, j] = Σ_k a[i, k] · b[k, j]`.
///
/// # Panics
/// If `a` is m × k, `b` must be k × n.
///
/// ```
/// use graph_runtime::kernels::linalg::matmul;
/// use ndarray::array;
///
/// let a = array![[1.0_f32, 2.0], [3.0, 4.0]];
/// let b = array![[5.0_f32], [6.0]];
/// assert_eq!(matmul(a.view(), b.view()), array![[17.0], [39.0]]);
/// ```
#[track_caller]
#[must_use]
pub fn matmul(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Array2<f32> {
    if a.ncols() != b.nrows() {
        shape_panic("matmul", &[a.shape(), b.shape()]);
    }
    let mut out = Array2::zeros((a.nrows(), b.ncols()));
    matmul_into(a, b, out.view_mut());
    out
}

/// Matrix-vector product into caller storage: `out[i] = Σ_k a[i, k] · x[k]`.
///
/// # Panics
/// If `a` is m × k, `x` must have length k and `out` length m.
///
/// ```
/// use graph_runtime::kernels::linalg::matvec_into;
/// use ndarray::{array, Array1};
///
/// let a = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// let mut out = Array1::zeros(2);
/// matvec_into(a.view(), array![1.0_f32, 0.0, -1.0].view(), out.view_mut());
/// assert_eq!(out, array![-2.0, -2.0]);
/// ```
#[track_caller]
pub fn matvec_into(a: ArrayView2<'_, f32>, x: ArrayView1<'_, f32>, out: ArrayViewMut1<'_, f32>) {
    if a.ncols() != x.len() || out.len() != a.nrows() {
        shape_panic("matvec", &[a.shape(), x.shape(), out.shape()]);
    }
    // `x` as a k × 1 matrix: one dot product per row of `a`.
    let column = x.insert_axis(Axis(1));
    product(
        a,
        column,
        None,
        Activation::Identity,
        out.insert_axis(Axis(1)),
        false,
        Kernels::Simd,
    );
}

/// Matrix-vector product: `out[i] = Σ_k a[i, k] · x[k]`.
///
/// # Panics
/// If `a` is m × k, `x` must have length k.
///
/// ```
/// use graph_runtime::kernels::linalg::matvec;
/// use ndarray::array;
///
/// let a = array![[1.0_f32, 2.0], [3.0, 4.0]];
/// assert_eq!(matvec(a.view(), array![1.0_f32, -1.0].view()), array![-1.0, -1.0]);
/// ```
#[track_caller]
#[must_use]
pub fn matvec(a: ArrayView2<'_, f32>, x: ArrayView1<'_, f32>) -> Array1<f32> {
    if a.ncols() != x.len() {
        shape_panic("matvec", &[a.shape(), x.shape()]);
    }
    let mut out = Array1::zeros(a.nrows());
    matvec_into(a, x, out.view_mut());
    out
}

/// Vector-matrix product into caller storage: `out[j] = Σ_k x[k] · b[k, j]`
/// (the batch-1 dense layer).
///
/// # Panics
/// If `b` is k × n, `x` must have length k and `out` length n.
///
/// ```
/// use graph_runtime::kernels::linalg::vecmat_into;
/// use ndarray::{array, Array1};
///
/// let b = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// let mut out = Array1::zeros(3);
/// vecmat_into(array![2.0_f32, 3.0].view(), b.view(), out.view_mut());
/// assert_eq!(out, array![14.0, 19.0, 24.0]);
/// ```
#[track_caller]
pub fn vecmat_into(x: ArrayView1<'_, f32>, b: ArrayView2<'_, f32>, out: ArrayViewMut1<'_, f32>) {
    if x.len() != b.nrows() || out.len() != b.ncols() {
        shape_panic("vecmat", &[x.shape(), b.shape(), out.shape()]);
    }
    let row = x.insert_axis(Axis(0));
    product(
        row,
        b,
        None,
        Activation::Identity,
        out.insert_axis(Axis(0)),
        false,
        Kernels::Simd,
    );
}

/// Vector-matrix product: `out[j] = Σ_k x[k] · b[k, j]`.
///
/// # Panics
/// If `b` is k × n, `x` must have length k.
///
/// ```
/// use graph_runtime::kernels::linalg::vecmat;
/// use ndarray::array;
///
/// let b = array![[1.0_f32, 2.0], [3.0, 4.0]];
/// assert_eq!(vecmat(array![1.0_f32, 1.0].view(), b.view()), array![4.0, 6.0]);
/// ```
#[track_caller]
#[must_use]
pub fn vecmat(x: ArrayView1<'_, f32>, b: ArrayView2<'_, f32>) -> Array1<f32> {
    if x.len() != b.nrows() {
        shape_panic("vecmat", &[x.shape(), b.shape()]);
    }
    let mut out = Array1::zeros(b.ncols());
    vecmat_into(x, b, out.view_mut());
    out
}

/// Inner product of two vectors: `out = Σ_k x[k] · y[k]` (no allocation).
///
/// # Panics
/// If the lengths differ.
///
/// ```
/// use graph_runtime::kernels::linalg::dot;
/// use ndarray::array;
///
/// assert_eq!(dot(array![1.0_f32, 2.0].view(), array![3.0_f32, 4.0].view()), 11.0);
/// ```
#[track_caller]
#[must_use]
pub fn dot(x: ArrayView1<'_, f32>, y: ArrayView1<'_, f32>) -> f32 {
    if x.len() != y.len() {
        shape_panic("dot", &[x.shape(), y.shape()]);
    }
    x.dot(&y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn all_rank_combinations_by_hand() {
        let a = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let x = array![1.0_f32, 0.0, -1.0];
        let y = array![2.0_f32, 3.0];
        assert_eq!(matvec(a.view(), x.view()), array![-2.0, -2.0]);
        assert_eq!(vecmat(y.view(), a.view()), array![14.0, 19.0, 24.0]);
        assert_eq!(dot(x.view(), x.view()), 2.0);
        assert_eq!(matmul(a.view(), a.t()), array![[14.0, 32.0], [32.0, 77.0]]);
    }

    #[test]
    fn empty_inner_dimension_gives_zeros() {
        let a = Array2::<f32>::zeros((2, 0));
        let b = Array2::<f32>::zeros((0, 3));
        assert_eq!(matmul(a.view(), b.view()), Array2::<f32>::zeros((2, 3)));
    }
}
