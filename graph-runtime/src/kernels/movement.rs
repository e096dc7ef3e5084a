//! Kernels that move data without computing on it: permutations, reshapes,
//! concatenation, slicing, broadcasting and unit axes.
//!
//! Every kernel accepts views of any layout (transposed, strided) and returns
//! an owned array in standard (row-major) layout. Where the rank changes, the
//! output rank `O` is chosen by the caller and must match.

use ndarray::{Array, ArrayView, Axis, Dimension, IxDyn, Slice};

use super::binary::{dim_from_shape, stretch};
use super::elementwise::broadcast_shape;
use super::shape_panic;

/// Permutes the axes: `out[i_0, …, i_{r−1}]` is `x` at the index whose axis
/// `axes[k]` takes `i_k`, so `out.shape()[k] = x.shape()[axes[k]]` (numpy's
/// `transpose(x, axes)`).
///
/// # Panics
/// If `axes` is not a permutation of `0..rank`.
///
/// ```
/// use graph_runtime::kernels::movement::permute;
/// use ndarray::Array3;
///
/// let x = Array3::<f32>::zeros((2, 3, 4));
/// assert_eq!(permute(x.view(), &[2, 0, 1]).shape(), &[4, 2, 3]);
/// ```
#[track_caller]
#[must_use]
pub fn permute<D: Dimension>(x: ArrayView<'_, f32, D>, axes: &[usize]) -> Array<f32, D> {
    let mut seen = vec![false; x.ndim()];
    for &axis in axes {
        match seen.get_mut(axis) {
            Some(flag) if !*flag => *flag = true,
            _ => shape_panic("permute", &[x.shape(), axes]),
        }
    }
    if axes.len() != x.ndim() {
        shape_panic("permute", &[x.shape(), axes]);
    }
    let mut order = D::zeros(x.ndim());
    order.slice_mut().copy_from_slice(axes);
    x.permuted_axes(order).as_standard_layout().into_owned()
}

/// Reverses the order of the axes (matrix transpose for rank 2):
/// `out[i, j, …] = x[…, j, i]`.
///
/// ```
/// use graph_runtime::kernels::movement::transpose;
/// use ndarray::array;
///
/// let x = array![[1.0_f32, 2.0, 3.0]];
/// assert_eq!(transpose(x.view()), array![[1.0], [2.0], [3.0]]);
/// ```
#[must_use]
pub fn transpose<D: Dimension>(x: ArrayView<'_, f32, D>) -> Array<f32, D> {
    x.reversed_axes().as_standard_layout().into_owned()
}

/// Reshapes to `shape`, reading and writing elements in row-major order (as
/// numpy's `reshape` with the default order), whatever `x`'s layout.
///
/// # Panics
/// If `shape` does not hold as many elements as `x`, or has a rank other than
/// `O`'s.
///
/// ```
/// use graph_runtime::kernels::movement::reshape;
/// use ndarray::{array, Array1};
///
/// let x = array![[1.0_f32, 2.0], [3.0, 4.0]];
/// let flat: Array1<f32> = reshape(x.t(), &[4]);
/// assert_eq!(flat, array![1.0, 3.0, 2.0, 4.0]);
/// ```
#[track_caller]
pub fn reshape<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    shape: &[usize],
) -> Array<f32, O> {
    let dim: O = dim_from_shape("reshape", &[x.shape(), shape], shape);
    if dim.size_checked() != Some(x.len()) {
        shape_panic("reshape", &[x.shape(), shape]);
    }
    match Array::from_shape_vec(dim, x.iter().copied().collect()) {
        Ok(out) => out,
        Err(_) => shape_panic("reshape", &[x.shape(), shape]),
    }
}

/// Joins `parts` along `axis`: their sizes on every other axis must agree, and
/// the output's size on `axis` is the sum of theirs.
///
/// # Panics
/// If `parts` is empty, `axis` is out of range, or the other sizes differ.
///
/// ```
/// use graph_runtime::kernels::movement::concat;
/// use ndarray::array;
///
/// let a = array![[1.0_f32, 2.0]];
/// let b = array![[3.0_f32], [4.0]];
/// let y = concat(&[a.t(), b.view()], 1);
/// assert_eq!(y, array![[1.0, 3.0], [2.0, 4.0]]);
/// ```
#[track_caller]
#[must_use]
pub fn concat<D: Dimension>(parts: &[ArrayView<'_, f32, D>], axis: usize) -> Array<f32, D> {
    let fits = parts.first().is_some_and(|first| {
        axis < first.ndim()
            && parts.iter().all(|part| {
                part.ndim() == first.ndim()
                    && (0..first.ndim())
                        .all(|k| k == axis || part.len_of(Axis(k)) == first.len_of(Axis(k)))
            })
    });
    if !fits {
        let shapes: Vec<&[usize]> = parts.iter().map(ArrayView::shape).collect();
        shape_panic("concat", &shapes);
    }
    let mut dim = parts[0].raw_dim();
    dim[axis] = parts.iter().map(|part| part.len_of(Axis(axis))).sum();
    let mut out = Array::zeros(dim);
    let mut start = 0;
    for part in parts {
        let end = start + part.len_of(Axis(axis));
        out.slice_axis_mut(Axis(axis), Slice::from(start..end))
            .assign(part);
        start = end;
    }
    out
}

/// The elements `start..end` along `axis` (end exclusive, step 1); every
/// other axis is kept whole.
///
/// # Panics
/// If `axis` is out of range or `start ≤ end ≤ len` does not hold.
///
/// ```
/// use graph_runtime::kernels::movement::slice;
/// use ndarray::array;
///
/// let x = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// assert_eq!(slice(x.view(), 1, 1, 3), array![[2.0, 3.0], [5.0, 6.0]]);
/// ```
#[track_caller]
#[must_use]
pub fn slice<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    axis: usize,
    start: usize,
    end: usize,
) -> Array<f32, D> {
    if axis >= x.ndim() || start > end || end > x.len_of(Axis(axis)) {
        shape_panic("slice", &[x.shape(), &[axis, start, end]]);
    }
    x.slice_axis(Axis(axis), Slice::from(start..end))
        .as_standard_layout()
        .into_owned()
}

/// Broadcasts `x` to `shape` by numpy's rules (aligned at the last axis;
/// length-1 and missing leading axes stretch) and copies the result.
///
/// # Panics
/// If `x` does not broadcast to exactly `shape`, or `shape` has a rank other
/// than `O`'s.
///
/// ```
/// use graph_runtime::kernels::movement::broadcast_to;
/// use ndarray::{array, Array2};
///
/// let y: Array2<f32> = broadcast_to(array![1.0_f32, 2.0].view(), &[2, 2]);
/// assert_eq!(y, array![[1.0, 2.0], [1.0, 2.0]]);
/// ```
#[track_caller]
pub fn broadcast_to<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    shape: &[usize],
) -> Array<f32, O> {
    let operands = [x.shape(), shape];
    if broadcast_shape(x.shape(), shape).as_deref() != Some(shape) {
        shape_panic("broadcast_to", &operands);
    }
    let dim: O = dim_from_shape("broadcast_to", &operands, shape);
    stretch("broadcast_to", &operands, &x, &dim).to_owned()
}

/// Inserts a length-1 axis so that it becomes axis `axis` of the output
/// (`0 ≤ axis ≤ rank`; `axis = rank` appends it).
///
/// # Panics
/// If `axis > rank`, or `O` is not one rank more than `x`.
///
/// ```
/// use graph_runtime::kernels::movement::expand_dims;
/// use ndarray::{array, Array2};
///
/// let y: Array2<f32> = expand_dims(array![1.0_f32, 2.0].view(), 1);
/// assert_eq!(y, array![[1.0], [2.0]]);
/// ```
#[track_caller]
pub fn expand_dims<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    axis: usize,
) -> Array<f32, O> {
    if axis > x.ndim() {
        shape_panic("expand_dims", &[x.shape(), &[axis]]);
    }
    let mut shape = x.shape().to_vec();
    shape.insert(axis, 1);
    let dim: O = dim_from_shape("expand_dims", &[x.shape(), &[axis]], &shape);
    to_dim("expand_dims", x.into_dyn().insert_axis(Axis(axis)), dim)
}

/// Removes the length-1 axes listed in `axes` (distinct, any order). An empty
/// list removes nothing; to drop every length-1 axis, as TensorFlow's default,
/// pass them all.
///
/// # Panics
/// If an axis is out of range, repeated, or not of length 1, or `O` is not the
/// result's rank.
///
/// ```
/// use graph_runtime::kernels::movement::squeeze;
/// use ndarray::{array, Array1};
///
/// let y: Array1<f32> = squeeze(array![[[1.0_f32], [2.0]]].view(), &[0, 2]);
/// assert_eq!(y, array![1.0, 2.0]);
/// ```
#[track_caller]
pub fn squeeze<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    axes: &[usize],
) -> Array<f32, O> {
    let mut sorted = axes.to_vec();
    sorted.sort_unstable();
    let repeated = sorted.windows(2).any(|pair| pair[0] == pair[1]);
    if repeated
        || axes
            .iter()
            .any(|&axis| axis >= x.ndim() || x.len_of(Axis(axis)) != 1)
    {
        shape_panic("squeeze", &[x.shape(), axes]);
    }
    let mut view = x.view().into_dyn();
    for &axis in sorted.iter().rev() {
        view = view.index_axis_move(Axis(axis), 0);
    }
    let dim: O = dim_from_shape("squeeze", &[x.shape(), axes], view.shape());
    to_dim("squeeze", view, dim)
}

/// Copies a dynamic-rank view into a standard-layout array of dimension
/// `dim`, which has the same shape.
#[track_caller]
fn to_dim<O: Dimension>(kernel: &str, view: ArrayView<'_, f32, IxDyn>, dim: O) -> Array<f32, O> {
    let shape = view.shape().to_vec();
    match view
        .as_standard_layout()
        .into_owned()
        .into_dimensionality::<O>()
    {
        Ok(out) if out.raw_dim() == dim => out,
        _ => shape_panic(kernel, &[&shape, dim.slice()]),
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // Expected values are exact by construction.
mod tests {
    use super::*;
    use ndarray::{array, Array0, Array1, Array2, Array3};

    #[test]
    fn outputs_are_standard_layout() {
        let x = Array3::<f32>::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 12 + j * 4 + k) as f32);
        assert!(permute(x.view(), &[2, 0, 1]).is_standard_layout());
        assert!(transpose(x.view()).is_standard_layout());
        assert!(slice(x.view(), 2, 1, 3).is_standard_layout());
        let b: Array3<f32> = broadcast_to(array![1.0_f32].view(), &[2, 2, 2]);
        assert!(b.is_standard_layout());
        let e: Array3<f32> = expand_dims(x.index_axis(Axis(2), 0).t(), 0);
        assert!(e.is_standard_layout());
        assert_eq!(e.shape(), &[1, 3, 2]);
        assert_eq!(e[[0, 2, 1]], x[[1, 2, 0]]);
    }

    #[test]
    fn strided_input_reshapes_in_logical_order() {
        let x = Array1::from_iter((0..10).map(|v| v as f32));
        // (`s!` expands to an `allow(unsafe_code)` that this crate forbids.)
        let every_other = x.slice_axis(Axis(0), Slice::new(0, None, 2));
        let y: Array2<f32> = reshape(every_other, &[1, 5]);
        assert_eq!(y, array![[0.0, 2.0, 4.0, 6.0, 8.0]]);
    }

    #[test]
    fn rank_zero_round_trips() {
        let x = Array0::from_elem((), 7.0_f32);
        let one: Array1<f32> = expand_dims(x.view(), 0);
        let back: Array0<f32> = squeeze(one.view(), &[0]);
        let again: Array0<f32> = reshape(one.view(), &[]);
        assert_eq!((back.into_scalar(), again.into_scalar()), (7.0, 7.0));
    }

    #[test]
    fn empty_pieces() {
        let a = Array2::<f32>::zeros((2, 0));
        let b = array![[1.0_f32], [2.0]];
        assert_eq!(concat(&[a.view(), b.view(), a.view()], 1), b);
        assert_eq!(slice(b.view(), 0, 1, 1).shape(), &[0, 1]);
    }

    #[test]
    #[should_panic(
        expected = "kernel `permute` called with operands of incompatible shapes [[2, 3], [1, 1]]"
    )]
    fn repeated_permutation_axis_panics() {
        let _ = permute(Array2::<f32>::zeros((2, 3)).view(), &[1, 1]);
    }

    #[test]
    #[should_panic(expected = "kernel `reshape`")]
    fn reshape_to_wrong_size_panics() {
        let _: Array1<f32> = reshape(Array2::<f32>::zeros((2, 3)).view(), &[5]);
    }

    #[test]
    #[should_panic(expected = "kernel `concat`")]
    fn concat_mismatch_panics() {
        let _ = concat(
            &[
                Array2::<f32>::zeros((2, 3)).view(),
                Array2::<f32>::zeros((3, 3)).view(),
            ],
            1,
        );
    }

    #[test]
    #[should_panic(
        expected = "kernel `broadcast_to` called with operands of incompatible shapes [[3], [1]]"
    )]
    fn broadcast_never_shrinks() {
        let _: Array1<f32> = broadcast_to(Array1::<f32>::zeros(3).view(), &[1]);
    }

    #[test]
    #[should_panic(expected = "kernel `squeeze`")]
    fn squeeze_of_long_axis_panics() {
        let _: Array1<f32> = squeeze(Array2::<f32>::zeros((2, 3)).view(), &[0]);
    }
}
