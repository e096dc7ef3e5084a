//! Elementwise kernels, with numpy broadcasting for binary ones.
//!
//! Binary kernels take two views of any ranks and produce an array of the
//! broadcast shape: shapes are aligned at their last axis and each pair of
//! sizes must be equal or contain a 1, which stretches. A scalar operand is
//! passed as a rank-0 view (`ndarray::aview0`). The output rank `O` is chosen by
//! the caller, usually through a type annotation on the result.
//!
//! Every kernel also has an `_into` form writing into caller storage of
//! exactly the broadcast shape, and an `_inplace` form updating its first
//! operand (`x += y` with `y` broadcast to `x`'s shape: a bias add is
//! `add_inplace(activations, bias)`). Both accept any layouts and never
//! allocate.

use ndarray::{Array, ArrayView, ArrayViewMut, Dimension, Zip};

use super::binary::{broadcast_dim, is_broadcast_of, stretch, zip_into};
use super::shape_panic;

/// Elementwise sum with broadcasting: `out = a + b`.
///
/// # Panics
/// If the shapes do not broadcast together, or `O` is not their broadcast rank.
///
/// ```
/// use graph_runtime::kernels::elementwise::add;
/// use ndarray::{array, aview0, Array1};
///
/// let x = array![1.0_f32, 2.0, 3.0];
/// let y: Array1<f32> = add(x.view(), aview0(&0.5));
/// assert_eq!(y, array![1.5, 2.5, 3.5]);
/// ```
#[track_caller]
pub fn add<O: Dimension>(
    a: ArrayView<'_, f32, impl Dimension>,
    b: ArrayView<'_, f32, impl Dimension>,
) -> Array<f32, O> {
    binary("add", a, b, |x, y| x + y)
}

/// Elementwise difference with broadcasting: `out = a - b`.
///
/// # Panics
/// As [`add`].
#[track_caller]
pub fn sub<O: Dimension>(
    a: ArrayView<'_, f32, impl Dimension>,
    b: ArrayView<'_, f32, impl Dimension>,
) -> Array<f32, O> {
    binary("sub", a, b, |x, y| x - y)
}

/// Elementwise product with broadcasting: `out = a · b`.
///
/// # Panics
/// As [`add`].
#[track_caller]
pub fn mul<O: Dimension>(
    a: ArrayView<'_, f32, impl Dimension>,
    b: ArrayView<'_, f32, impl Dimension>,
) -> Array<f32, O> {
    binary("mul", a, b, |x, y| x * y)
}

/// Elementwise quotient with broadcasting: `out = a / b`, IEEE-754 semantics
/// (a division by zero gives ±inf or NaN, never a panic).
///
/// # Panics
/// As [`add`].
#[track_caller]
pub fn div<O: Dimension>(
    a: ArrayView<'_, f32, impl Dimension>,
    b: ArrayView<'_, f32, impl Dimension>,
) -> Array<f32, O> {
    binary("div", a, b, |x, y| x / y)
}

/// Elementwise negation: `out = -a`.
///
/// ```
/// use graph_runtime::kernels::elementwise::neg;
/// use ndarray::array;
///
/// assert_eq!(neg(array![1.0_f32, -2.0].view()), array![-1.0, 2.0]);
/// ```
#[must_use]
pub fn neg<D: Dimension>(a: ArrayView<'_, f32, D>) -> Array<f32, D> {
    let mut out = Array::zeros(a.raw_dim());
    neg_into(a, out.view_mut());
    out
}

/// The shape that `a` and `b` broadcast to, or `None` if they do not.
#[must_use]
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for (axis, size) in out.iter_mut().enumerate() {
        // Align at the last axis; a missing leading axis counts as 1.
        let from_end = rank - axis;
        let x = if from_end <= a.len() {
            a[a.len() - from_end]
        } else {
            1
        };
        let y = if from_end <= b.len() {
            b[b.len() - from_end]
        } else {
            1
        };
        *size = match (x, y) {
            _ if x == y => x,
            (1, other) | (other, 1) => other,
            _ => return None,
        };
    }
    Some(out)
}

#[track_caller]
fn binary<O: Dimension>(
    kernel: &str,
    a: ArrayView<'_, f32, impl Dimension>,
    b: ArrayView<'_, f32, impl Dimension>,
    op: impl Fn(f32, f32) -> f32,
) -> Array<f32, O> {
    let dim: O = broadcast_dim(kernel, &[a.shape(), b.shape()]);
    let mut out = Array::zeros(dim);
    zip_into(kernel, a, b, out.view_mut(), op);
    out
}

/// `x = op(x, y)` with `y` broadcast to `x`'s shape.
#[track_caller]
fn update<D: Dimension>(
    kernel: &str,
    mut x: ArrayViewMut<'_, f32, D>,
    y: ArrayView<'_, f32, impl Dimension>,
    op: impl Fn(f32, f32) -> f32,
) {
    let shapes = [x.shape(), y.shape()];
    if !is_broadcast_of(x.shape(), &shapes) {
        shape_panic(kernel, &shapes);
    }
    let dim = x.raw_dim();
    let y = stretch(kernel, &shapes, &y, &dim);
    Zip::from(&mut x).and(&y).for_each(|a, &b| *a = op(*a, b));
}

/// Generates the `_into` and `_inplace` forms of an arithmetic kernel.
macro_rules! forms {
    ($name:ident, $into:ident, $inplace:ident, $op:expr) => {
        #[doc = concat!("[`", stringify!($name), "`] into caller storage: `out` must have exactly the broadcast shape; any layouts, no allocation.")]
        #[doc = ""]
        #[doc = "# Panics"]
        #[doc = "If the shapes do not broadcast together, or `out` does not have their broadcast shape."]
        #[doc = ""]
        #[doc = "```"]
        #[doc = concat!("use graph_runtime::kernels::elementwise::{", stringify!($name), ", ", stringify!($into), "};")]
        #[doc = "use ndarray::{array, Array2};"]
        #[doc = ""]
        #[doc = "let a = array![[1.0_f32, 2.0], [4.0, 8.0]];"]
        #[doc = "let b = array![0.5_f32, -2.0];"]
        #[doc = "let mut out = Array2::zeros((2, 2));"]
        #[doc = concat!(stringify!($into), "(a.t(), b.view(), out.view_mut());")]
        #[doc = concat!("let expected: Array2<f32> = ", stringify!($name), "(a.t(), b.view());")]
        #[doc = "assert_eq!(out, expected);"]
        #[doc = "```"]
        #[track_caller]
        pub fn $into<O: Dimension>(
            a: ArrayView<'_, f32, impl Dimension>,
            b: ArrayView<'_, f32, impl Dimension>,
            out: ArrayViewMut<'_, f32, O>,
        ) {
            zip_into(stringify!($name), a, b, out, $op);
        }

        #[doc = concat!("[`", stringify!($name), "`] in place: `x = x ∘ y` elementwise, with `y` broadcast to `x`'s shape; any layouts, no allocation.")]
        #[doc = ""]
        #[doc = "# Panics"]
        #[doc = "If `y` does not broadcast to `x`'s shape."]
        #[doc = ""]
        #[doc = "```"]
        #[doc = concat!("use graph_runtime::kernels::elementwise::{", stringify!($name), ", ", stringify!($inplace), "};")]
        #[doc = "use ndarray::{array, Array2};"]
        #[doc = ""]
        #[doc = "let x = array![[1.0_f32, 2.0], [4.0, 8.0]];"]
        #[doc = "let bias = array![0.5_f32, -2.0];"]
        #[doc = "let mut y = x.clone();"]
        #[doc = concat!(stringify!($inplace), "(y.view_mut(), bias.view());")]
        #[doc = concat!("let expected: Array2<f32> = ", stringify!($name), "(x.view(), bias.view());")]
        #[doc = "assert_eq!(y, expected);"]
        #[doc = "```"]
        #[track_caller]
        pub fn $inplace<D: Dimension>(
            x: ArrayViewMut<'_, f32, D>,
            y: ArrayView<'_, f32, impl Dimension>,
        ) {
            update(stringify!($name), x, y, $op);
        }
    };
}

forms!(add, add_into, add_inplace, |x, y| x + y);
forms!(sub, sub_into, sub_inplace, |x, y| x - y);
forms!(mul, mul_into, mul_inplace, |x, y| x * y);
forms!(div, div_into, div_inplace, |x, y| x / y);

/// [`neg`] into caller storage: `out` must have `a`'s shape; any layouts,
/// no allocation.
///
/// # Panics
/// If `out` does not have `a`'s shape.
///
/// ```
/// use graph_runtime::kernels::elementwise::neg_into;
/// use ndarray::{array, Array1};
///
/// let mut out = Array1::zeros(2);
/// neg_into(array![1.0_f32, -2.0].view(), out.view_mut());
/// assert_eq!(out, array![-1.0, 2.0]);
/// ```
#[track_caller]
pub fn neg_into<D: Dimension>(a: ArrayView<'_, f32, D>, mut out: ArrayViewMut<'_, f32, D>) {
    if a.shape() != out.shape() {
        shape_panic("neg", &[a.shape(), out.shape()]);
    }
    Zip::from(&mut out).and(&a).for_each(|o, &x| *o = -x);
}

/// [`neg`] in place: `x = -x`, any layout.
///
/// ```
/// use graph_runtime::kernels::elementwise::neg_inplace;
/// use ndarray::array;
///
/// let mut x = array![1.0_f32, -2.0];
/// neg_inplace(x.view_mut());
/// assert_eq!(x, array![-1.0, 2.0]);
/// ```
pub fn neg_inplace<D: Dimension>(mut x: ArrayViewMut<'_, f32, D>) {
    x.mapv_inplace(|v| -v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, aview0, Array0, Array1, Array2, Array3};

    #[test]
    fn broadcast_shape_follows_numpy() {
        assert_eq!(broadcast_shape(&[3, 1], &[1, 4]), Some(vec![3, 4]));
        assert_eq!(broadcast_shape(&[], &[2, 3]), Some(vec![2, 3]));
        assert_eq!(broadcast_shape(&[5, 1, 3], &[4, 1]), Some(vec![5, 4, 3]));
        assert_eq!(broadcast_shape(&[0, 3], &[3]), Some(vec![0, 3]));
        assert_eq!(broadcast_shape(&[0], &[1]), Some(vec![0]));
        assert_eq!(broadcast_shape(&[2, 3], &[3, 2]), None);
        assert_eq!(broadcast_shape(&[0], &[2]), None);
    }

    #[test]
    fn column_plus_row() {
        let column = array![[1.0_f32], [2.0], [3.0]];
        let row = array![[10.0_f32, 20.0, 30.0, 40.0]];
        let sum: Array2<f32> = add(column.view(), row.view());
        // Hand-computed: sum[i][j] = column[i] + row[j].
        assert_eq!(
            sum,
            array![
                [11.0, 21.0, 31.0, 41.0],
                [12.0, 22.0, 32.0, 42.0],
                [13.0, 23.0, 33.0, 43.0]
            ]
        );
    }

    #[test]
    fn scalar_with_matrix_both_orders() {
        let m = array![[1.0_f32, 2.0], [4.0, 8.0]];
        let left: Array2<f32> = div(aview0(&8.0), m.view());
        assert_eq!(left, array![[8.0, 4.0], [2.0, 1.0]]);
        let right: Array2<f32> = sub(m.view(), aview0(&1.0));
        assert_eq!(right, array![[0.0, 1.0], [3.0, 7.0]]);
    }

    #[test]
    fn rank_three_with_vector() {
        let a = Array3::<f32>::from_shape_fn((2, 2, 3), |(i, j, k)| (i * 6 + j * 3 + k) as f32);
        let v = array![1.0_f32, 10.0, 100.0];
        let p: Array3<f32> = mul(a.view(), v.view());
        assert_eq!(p[[1, 1, 2]], 11.0 * 100.0);
        assert_eq!(p[[0, 1, 0]], 3.0);
    }

    #[test]
    fn transposed_views_compute_correctly() {
        let a = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let b = array![[1.0_f32, 1.0], [2.0, 2.0], [3.0, 3.0]];
        let s: Array2<f32> = add(a.t(), b.view());
        assert_eq!(s, array![[2.0, 5.0], [4.0, 7.0], [6.0, 9.0]]);
    }

    #[test]
    fn scalars_and_empty_arrays() {
        let s: Array0<f32> = mul(aview0(&3.0), aview0(&4.0));
        assert_eq!(s.into_scalar(), 12.0);
        let empty = Array1::<f32>::zeros(0);
        let e: Array1<f32> = add(empty.view(), aview0(&1.0));
        assert_eq!(e.len(), 0);
    }

    #[test]
    fn division_by_zero_is_ieee() {
        let q: Array1<f32> = div(array![1.0_f32, -1.0, 0.0].view(), aview0(&0.0));
        assert_eq!(q[0], f32::INFINITY);
        assert_eq!(q[1], f32::NEG_INFINITY);
        assert!(q[2].is_nan());
    }

    #[test]
    #[should_panic(expected = "kernel `add` called with operands of incompatible shapes")]
    fn incompatible_shapes_panic_with_names() {
        let _: Array2<f32> = add(
            Array2::<f32>::zeros((2, 3)).view(),
            Array2::<f32>::zeros((3, 2)).view(),
        );
    }
}
