//! Matrix products.
//!
//! One kernel per operand ranks, as numpy's `matmul` defines them for 1-D and
//! 2-D operands: a vector on the left acts as a row, on the right as a column,
//! and the added axis is removed from the result.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use super::shape_panic;

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
    a.dot(&b)
}

/// Matrix-vector product: `out[i] = Σ_k a[i, k] · x[k]`.
///
/// # Panics
/// If `a` is m × k, `x` must have length k.
#[track_caller]
#[must_use]
pub fn matvec(a: ArrayView2<'_, f32>, x: ArrayView1<'_, f32>) -> Array1<f32> {
    if a.ncols() != x.len() {
        shape_panic("matvec", &[a.shape(), x.shape()]);
    }
    a.dot(&x)
}

/// Vector-matrix product: `out[j] = Σ_k x[k] · b[k, j]`.
///
/// # Panics
/// If `b` is k × n, `x` must have length k.
#[track_caller]
#[must_use]
pub fn vecmat(x: ArrayView1<'_, f32>, b: ArrayView2<'_, f32>) -> Array1<f32> {
    if x.len() != b.nrows() {
        shape_panic("vecmat", &[x.shape(), b.shape()]);
    }
    x.dot(&b)
}

/// Inner product of two vectors: `out = Σ_k x[k] · y[k]`.
///
/// # Panics
/// If the lengths differ.
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
