//! Elementwise kernels of two or three operands beyond arithmetic: extrema,
//! comparisons and selection, all with numpy broadcasting.
//!
//! Shapes are aligned at their last axis; each pair of sizes must be equal or
//! contain a 1, which stretches (see
//! [`elementwise::broadcast_shape`](super::elementwise::broadcast_shape)). A
//! scalar operand is a rank-0 view. The output rank `O` is chosen by the
//! caller, usually through a type annotation on the result. Each kernel has
//! an `_into` form that writes into caller storage of exactly the broadcast
//! shape, for operands and output of any layout, without allocating.

use ndarray::{Array, ArrayView, ArrayViewMut, Dimension, Zip};

use super::elementwise::broadcast_shape;
use super::shape_panic;
use crate::scalar;

/// Elementwise maximum with broadcasting: `out = max(a, b)`, NaN if either
/// operand is NaN (as `numpy.maximum`).
///
/// # Panics
/// If the shapes do not broadcast together, or `O` is not their broadcast rank.
///
/// ```
/// use graph_runtime::kernels::binary::maximum;
/// use ndarray::{array, aview0, Array1};
///
/// let y: Array1<f32> = maximum(array![-1.0_f32, 2.0].view(), aview0(&0.0));
/// assert_eq!(y, array![0.0, 2.0]);
/// ```
#[track_caller]
pub fn maximum<O: Dimension>(
    a: ArrayView<'_, f32, impl Dimension>,
    b: ArrayView<'_, f32, impl Dimension>,
) -> Array<f32, O> {
    zip_with("maximum", a, b, scalar::maximum)
}

/// Elementwise minimum with broadcasting: `out = min(a, b)`, NaN if either
/// operand is NaN (as `numpy.minimum`).
///
/// # Panics
/// As [`maximum`].
///
/// ```
/// use graph_runtime::kernels::binary::minimum;
/// use ndarray::{array, Array2};
///
/// let column = array![[1.0_f32], [5.0]];
/// let row = array![2.0_f32, 4.0];
/// let y: Array2<f32> = minimum(column.view(), row.view());
/// assert_eq!(y, array![[1.0, 1.0], [2.0, 4.0]]);
/// ```
#[track_caller]
pub fn minimum<O: Dimension>(
    a: ArrayView<'_, f32, impl Dimension>,
    b: ArrayView<'_, f32, impl Dimension>,
) -> Array<f32, O> {
    zip_with("minimum", a, b, scalar::minimum)
}

/// Elementwise `a > b` with broadcasting. Any comparison with NaN is false.
///
/// # Panics
/// As [`maximum`].
///
/// ```
/// use graph_runtime::kernels::binary::gt;
/// use ndarray::{array, aview0, Array1};
///
/// let y: Array1<bool> = gt(array![1.0_f32, 2.0, 3.0].view(), aview0(&2.0));
/// assert_eq!(y, array![false, false, true]);
/// ```
#[track_caller]
pub fn gt<O: Dimension>(
    a: ArrayView<'_, f32, impl Dimension>,
    b: ArrayView<'_, f32, impl Dimension>,
) -> Array<bool, O> {
    zip_with("gt", a, b, |x, y| x > y)
}

/// Elementwise `a ≥ b` with broadcasting. Any comparison with NaN is false.
///
/// # Panics
/// As [`maximum`].
///
/// ```
/// use graph_runtime::kernels::binary::ge;
/// use ndarray::{array, aview0, Array1};
///
/// let y: Array1<bool> = ge(array![1.0_f32, 2.0, 3.0].view(), aview0(&2.0));
/// assert_eq!(y, array![false, true, true]);
/// ```
#[track_caller]
pub fn ge<O: Dimension>(
    a: ArrayView<'_, f32, impl Dimension>,
    b: ArrayView<'_, f32, impl Dimension>,
) -> Array<bool, O> {
    zip_with("ge", a, b, |x, y| x >= y)
}

/// Elementwise `a < b` with broadcasting. Any comparison with NaN is false.
///
/// # Panics
/// As [`maximum`].
///
/// ```
/// use graph_runtime::kernels::binary::lt;
/// use ndarray::{array, aview0, Array1};
///
/// let y: Array1<bool> = lt(array![1.0_f32, 2.0, 3.0].view(), aview0(&2.0));
/// assert_eq!(y, array![true, false, false]);
/// ```
#[track_caller]
pub fn lt<O: Dimension>(
    a: ArrayView<'_, f32, impl Dimension>,
    b: ArrayView<'_, f32, impl Dimension>,
) -> Array<bool, O> {
    zip_with("lt", a, b, |x, y| x < y)
}

/// Elementwise `a ≤ b` with broadcasting. Any comparison with NaN is false.
///
/// # Panics
/// As [`maximum`].
///
/// ```
/// use graph_runtime::kernels::binary::le;
/// use ndarray::{array, aview0, Array1};
///
/// let y: Array1<bool> = le(array![1.0_f32, 2.0, 3.0].view(), aview0(&2.0));
/// assert_eq!(y, array![true, true, false]);
/// ```
#[track_caller]
pub fn le<O: Dimension>(
    a: ArrayView<'_, f32, impl Dimension>,
    b: ArrayView<'_, f32, impl Dimension>,
) -> Array<bool, O> {
    zip_with("le", a, b, |x, y| x <= y)
}

/// Elementwise exact equality `a == b` with broadcasting, IEEE-754 style:
/// NaN equals nothing, and `0.0 == -0.0`.
///
/// # Panics
/// As [`maximum`].
///
/// ```
/// use graph_runtime::kernels::binary::eq;
/// use ndarray::{array, aview0, Array1};
///
/// let y: Array1<bool> = eq(array![1.0_f32, 2.0, f32::NAN].view(), aview0(&2.0));
/// assert_eq!(y, array![false, true, false]);
/// ```
#[track_caller]
pub fn eq<O: Dimension>(
    a: ArrayView<'_, f32, impl Dimension>,
    b: ArrayView<'_, f32, impl Dimension>,
) -> Array<bool, O> {
    zip_with("eq", a, b, exactly_equal)
}

/// Elementwise choice with broadcasting of all three operands:
/// `out = if mask { a } else { b }` (as `numpy.where`).
///
/// # Panics
/// If the three shapes do not broadcast together, or `O` is not their
/// broadcast rank.
///
/// ```
/// use graph_runtime::kernels::binary::select;
/// use ndarray::{array, aview0, Array2};
///
/// let mask = array![[true], [false]];
/// let a = array![1.0_f32, 2.0];
/// let y: Array2<f32> = select(mask.view(), a.view(), aview0(&0.0));
/// assert_eq!(y, array![[1.0, 2.0], [0.0, 0.0]]);
/// ```
#[track_caller]
pub fn select<O: Dimension>(
    mask: ArrayView<'_, bool, impl Dimension>,
    a: ArrayView<'_, f32, impl Dimension>,
    b: ArrayView<'_, f32, impl Dimension>,
) -> Array<f32, O> {
    let dim: O = broadcast_dim("select", &[mask.shape(), a.shape(), b.shape()]);
    let mut out = Array::zeros(dim);
    select_into(mask, a, b, out.view_mut());
    out
}

/// The broadcast shape of `shapes` as a dimension of type `O`.
///
/// Shared by the kernels of this family and by others that broadcast.
#[track_caller]
pub(crate) fn broadcast_dim<O: Dimension>(kernel: &str, shapes: &[&[usize]]) -> O {
    let mut shape = Vec::new();
    for operand in shapes {
        match broadcast_shape(&shape, operand) {
            Some(joined) => shape = joined,
            None => shape_panic(kernel, shapes),
        }
    }
    dim_from_shape(kernel, shapes, &shape)
}

/// `shape` as a dimension of type `O`, panicking through [`shape_panic`] with
/// `operands` if `O` has another rank.
#[track_caller]
pub(crate) fn dim_from_shape<O: Dimension>(
    kernel: &str,
    operands: &[&[usize]],
    shape: &[usize],
) -> O {
    if O::NDIM.is_some_and(|rank| rank != shape.len()) {
        shape_panic(kernel, operands);
    }
    let mut dim = O::zeros(shape.len());
    dim.slice_mut().copy_from_slice(shape);
    dim
}

/// A broadcast view of `x` with shape `dim`.
#[track_caller]
pub(crate) fn stretch<'a, T, D: Dimension, O: Dimension>(
    kernel: &str,
    shapes: &[&[usize]],
    x: &'a ArrayView<'_, T, D>,
    dim: &O,
) -> ArrayView<'a, T, O> {
    match x.broadcast(dim.clone()) {
        Some(view) => view,
        None => shape_panic(kernel, shapes),
    }
}

#[track_caller]
fn zip_with<R: Clone + Default, O: Dimension>(
    kernel: &str,
    a: ArrayView<'_, f32, impl Dimension>,
    b: ArrayView<'_, f32, impl Dimension>,
    op: impl Fn(f32, f32) -> R,
) -> Array<R, O> {
    let dim: O = broadcast_dim(kernel, &[a.shape(), b.shape()]);
    let mut out = Array::default(dim);
    zip_into(kernel, a, b, out.view_mut(), op);
    out
}

/// Whether `out` is exactly the broadcast shape of `operands` (computed
/// without allocating).
pub(crate) fn is_broadcast_of(out: &[usize], operands: &[&[usize]]) -> bool {
    let rank = operands.iter().map(|shape| shape.len()).max().unwrap_or(0);
    if out.len() != rank {
        return false;
    }
    out.iter().enumerate().all(|(axis, &size)| {
        let from_end = rank - axis;
        let mut joined = 1;
        for operand in operands {
            let s = if from_end <= operand.len() {
                operand[operand.len() - from_end]
            } else {
                1
            };
            if s != 1 {
                if joined == 1 {
                    joined = s;
                } else if joined != s {
                    return false;
                }
            }
        }
        joined == size
    })
}

/// Writes `op(a, b)` into `out`, which must have exactly the broadcast
/// shape of `a` and `b`.
#[track_caller]
pub(crate) fn zip_into<R, O: Dimension>(
    kernel: &str,
    a: ArrayView<'_, f32, impl Dimension>,
    b: ArrayView<'_, f32, impl Dimension>,
    mut out: ArrayViewMut<'_, R, O>,
    op: impl Fn(f32, f32) -> R,
) {
    let shapes = [a.shape(), b.shape(), out.shape()];
    if !is_broadcast_of(out.shape(), &shapes[..2]) {
        shape_panic(kernel, &shapes);
    }
    let dim = out.raw_dim();
    let a = stretch(kernel, &shapes, &a, &dim);
    let b = stretch(kernel, &shapes, &b, &dim);
    Zip::from(&mut out)
        .and(&a)
        .and(&b)
        .for_each(|o, &x, &y| *o = op(x, y));
}

/// Generates the `_into` form of a broadcasting binary kernel.
macro_rules! into_form {
    ($name:ident, $into:ident, $out:ty, $op:expr, $a:literal, $b:literal) => {
        #[doc = concat!("[`", stringify!($name), "`] into caller storage: `out` must have exactly the broadcast shape; any layouts, no allocation.")]
        #[doc = ""]
        #[doc = "# Panics"]
        #[doc = "If the shapes do not broadcast together, or `out` does not have their broadcast shape."]
        #[doc = ""]
        #[doc = "```"]
        #[doc = concat!("use graph_runtime::kernels::binary::{", stringify!($name), ", ", stringify!($into), "};")]
        #[doc = "use ndarray::{array, Array, Ix2};"]
        #[doc = ""]
        #[doc = concat!("let a = array!", $a, ";")]
        #[doc = concat!("let b = array!", $b, ";")]
        #[doc = "let mut out = Array::default((2, 2));"]
        #[doc = concat!(stringify!($into), "(a.t(), b.view(), out.view_mut());")]
        #[doc = concat!("assert_eq!(out, ", stringify!($name), "::<Ix2>(a.t(), b.view()));")]
        #[doc = "```"]
        #[track_caller]
        pub fn $into<O: Dimension>(
            a: ArrayView<'_, f32, impl Dimension>,
            b: ArrayView<'_, f32, impl Dimension>,
            out: ArrayViewMut<'_, $out, O>,
        ) {
            zip_into(stringify!($name), a, b, out, $op);
        }
    };
}

into_form!(
    maximum,
    maximum_into,
    f32,
    scalar::maximum,
    "[[1.0_f32, 2.5], [3.0, -4.0]]",
    "[2.0_f32, 0.0]"
);
into_form!(
    minimum,
    minimum_into,
    f32,
    scalar::minimum,
    "[[1.0_f32, 2.5], [3.0, -4.0]]",
    "[2.0_f32, 0.0]"
);
into_form!(
    gt,
    gt_into,
    bool,
    |x, y| x > y,
    "[[1.0_f32, 2.0], [3.0, -4.0]]",
    "[2.0_f32, 0.0]"
);
into_form!(
    ge,
    ge_into,
    bool,
    |x, y| x >= y,
    "[[1.0_f32, 2.0], [3.0, -4.0]]",
    "[2.0_f32, 0.0]"
);
into_form!(
    lt,
    lt_into,
    bool,
    |x, y| x < y,
    "[[1.0_f32, 2.0], [3.0, -4.0]]",
    "[2.0_f32, 0.0]"
);
into_form!(
    le,
    le_into,
    bool,
    |x, y| x <= y,
    "[[1.0_f32, 2.0], [3.0, -4.0]]",
    "[2.0_f32, 0.0]"
);
#[allow(clippy::float_cmp)] // Exact comparison is what `eq` means.
fn exactly_equal(x: f32, y: f32) -> bool {
    x == y
}
into_form!(
    eq,
    eq_into,
    bool,
    exactly_equal,
    "[[1.0_f32, 2.0], [3.0, -4.0]]",
    "[2.0_f32, 0.0]"
);

/// [`select`] into caller storage: `out` must have exactly the broadcast
/// shape of the three operands; any layouts, no allocation.
///
/// # Panics
/// If the three shapes do not broadcast together, or `out` does not have
/// their broadcast shape.
///
/// ```
/// use graph_runtime::kernels::binary::select_into;
/// use ndarray::{array, aview0, Array2};
///
/// let mask = array![[true], [false]];
/// let mut out = Array2::zeros((2, 2));
/// select_into(mask.view(), array![1.0_f32, 2.0].view(), aview0(&0.0), out.view_mut());
/// assert_eq!(out, array![[1.0, 2.0], [0.0, 0.0]]);
/// ```
#[track_caller]
pub fn select_into<O: Dimension>(
    mask: ArrayView<'_, bool, impl Dimension>,
    a: ArrayView<'_, f32, impl Dimension>,
    b: ArrayView<'_, f32, impl Dimension>,
    mut out: ArrayViewMut<'_, f32, O>,
) {
    let shapes = [mask.shape(), a.shape(), b.shape(), out.shape()];
    if !is_broadcast_of(out.shape(), &shapes[..3]) {
        shape_panic("select", &shapes);
    }
    let dim = out.raw_dim();
    let mask = stretch("select", &shapes, &mask, &dim);
    let a = stretch("select", &shapes, &a, &dim);
    let b = stretch("select", &shapes, &b, &dim);
    Zip::from(&mut out)
        .and(&mask)
        .and(&a)
        .and(&b)
        .for_each(|o, &m, &x, &y| *o = if m { x } else { y });
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // Expected values are exact by construction.
mod tests {
    use super::*;
    use ndarray::{array, aview0, Array0, Array1, Array2, Array3};

    #[test]
    fn extrema_propagate_nan_from_either_side() {
        let a = array![f32::NAN, 1.0, 2.0];
        let b = array![0.0_f32, f32::NAN, 1.0];
        let hi: Array1<f32> = maximum(a.view(), b.view());
        let lo: Array1<f32> = minimum(a.view(), b.view());
        assert!(hi[0].is_nan() && hi[1].is_nan() && lo[0].is_nan() && lo[1].is_nan());
        assert_eq!((hi[2], lo[2]), (2.0, 1.0));
    }

    #[test]
    fn comparisons_with_nan_are_false() {
        let a = array![f32::NAN];
        let b = array![f32::NAN];
        for y in [
            gt::<ndarray::Ix1>(a.view(), b.view()),
            ge(a.view(), b.view()),
            lt(a.view(), b.view()),
            le(a.view(), b.view()),
            eq(a.view(), b.view()),
        ] {
            assert_eq!(y, array![false]);
        }
    }

    #[test]
    fn select_broadcasts_all_three() {
        let mask = array![true, false, true];
        let a = array![[1.0_f32], [2.0]];
        let y: Array2<f32> = select(mask.view(), a.view(), aview0(&-1.0));
        assert_eq!(y, array![[1.0, -1.0, 1.0], [2.0, -1.0, 2.0]]);
        let s: Array0<f32> = select(aview0(&false), aview0(&1.0), aview0(&2.0));
        assert_eq!(s.into_scalar(), 2.0);
    }

    #[test]
    fn transposed_operands() {
        let a = array![[1.0_f32, 5.0], [3.0, 2.0]];
        let y: Array2<bool> = gt(a.t(), a.view());
        assert_eq!(y, array![[false, false], [true, false]]);
    }

    #[test]
    #[should_panic(
        expected = "kernel `select` called with operands of incompatible shapes [[2], [3], []]"
    )]
    fn mismatched_mask_panics() {
        let _: Array1<f32> = select(
            array![true, false].view(),
            Array1::<f32>::zeros(3).view(),
            aview0(&0.0),
        );
    }

    #[test]
    #[should_panic(expected = "kernel `maximum` called with operands")]
    fn wrong_output_rank_panics() {
        let _: Array3<f32> = maximum(array![1.0_f32].view(), aview0(&0.0));
    }
}
