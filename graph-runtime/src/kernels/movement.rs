//! Kernels that move data without computing on it: permutations, reshapes,
//! concatenation, slicing, constant padding, broadcasting and unit axes.
//!
//! Every kernel accepts views of any layout (transposed, strided) and returns
//! an owned array in standard (row-major) layout. Where the rank changes, the
//! output rank `O` is chosen by the caller and must match. Each kernel has an
//! `_into` form that copies into caller storage of the result's shape, of
//! any layout, with no allocation.

use ndarray::{Array, ArrayView, ArrayViewMut, Axis, Dimension, Slice, Zip};

use super::binary::{dim_from_shape, is_broadcast_of, stretch};
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
    check_permutation(&x, axes);
    let mut shape = x.raw_dim();
    for (k, &axis) in axes.iter().enumerate() {
        shape[k] = x.len_of(Axis(axis));
    }
    let mut out = Array::zeros(shape);
    permute_into(x, axes, out.view_mut());
    out
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
    let mut dim = x.raw_dim();
    dim.slice_mut().reverse();
    let mut out = Array::zeros(dim);
    transpose_into(x, out.view_mut());
    out
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
    let mut out = Array::zeros(dim);
    reshape_into(x, out.view_mut());
    out
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
    check_concat(parts, axis, None);
    let mut dim = parts[0].raw_dim();
    dim[axis] = parts.iter().map(|part| part.len_of(Axis(axis))).sum();
    let mut out = Array::zeros(dim);
    concat_into(parts, axis, out.view_mut());
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
    let mut dim = x.raw_dim();
    dim[axis] = end - start;
    let mut out = Array::zeros(dim);
    slice_into(x, axis, start, end, out.view_mut());
    out
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
    let dim: O = dim_from_shape("broadcast_to", &[x.shape(), shape], shape);
    let mut out = Array::zeros(dim);
    broadcast_to_into(x, out.view_mut());
    out
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
    let mut out = Array::zeros(dim);
    expand_dims_into(x, axis, out.view_mut());
    out
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
    check_squeeze(&x, axes);
    let shape: Vec<usize> = (0..x.ndim())
        .filter(|axis| !axes.contains(axis))
        .map(|axis| x.len_of(Axis(axis)))
        .collect();
    let dim: O = dim_from_shape("squeeze", &[x.shape(), axes], &shape);
    let mut out = Array::zeros(dim);
    squeeze_into(x, axes, out.view_mut());
    out
}

/// Panics unless `axes` is a permutation of `x`'s axes.
#[track_caller]
fn check_permutation<D: Dimension>(x: &ArrayView<'_, f32, D>, axes: &[usize]) {
    let valid = axes.len() == x.ndim()
        && axes
            .iter()
            .enumerate()
            .all(|(i, &axis)| axis < x.ndim() && !axes[..i].contains(&axis));
    if !valid {
        shape_panic("permute", &[x.shape(), axes]);
    }
}

/// Copies `x` into `out` element by element in row-major order, whatever
/// either layout; the caller has checked that the element counts agree.
fn copy_row_major(
    x: ArrayView<'_, f32, impl Dimension>,
    mut out: ArrayViewMut<'_, f32, impl Dimension>,
) {
    match (x.as_slice(), out.as_slice_mut()) {
        (Some(source), Some(target)) => target.copy_from_slice(source),
        _ => {
            for (o, &v) in out.iter_mut().zip(x.iter()) {
                *o = v;
            }
        }
    }
}

/// [`permute`] into caller storage of the permuted shape.
///
/// # Panics
/// As [`permute`], and if `out` does not have the permuted shape.
///
/// ```
/// use graph_runtime::kernels::movement::{permute, permute_into};
/// use ndarray::Array3;
///
/// let x = Array3::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 12 + j * 4 + k) as f32);
/// let mut out = Array3::zeros((4, 2, 3));
/// permute_into(x.view(), &[2, 0, 1], out.view_mut());
/// assert_eq!(out, permute(x.view(), &[2, 0, 1]));
/// ```
#[track_caller]
pub fn permute_into<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    axes: &[usize],
    mut out: ArrayViewMut<'_, f32, D>,
) {
    check_permutation(&x, axes);
    let fits = axes
        .iter()
        .enumerate()
        .all(|(k, &axis)| out.len_of(Axis(k)) == x.len_of(Axis(axis)));
    if !fits {
        shape_panic("permute", &[x.shape(), axes, out.shape()]);
    }
    if let Some((batch, rows, cols)) = batched_transpose(x.shape(), axes) {
        if let (Some(source), Some(target)) = (x.as_slice(), out.as_slice_mut()) {
            transpose_blocks(source, target, batch, rows, cols);
            return;
        }
    }
    let mut order = D::zeros(x.ndim());
    order.slice_mut().copy_from_slice(axes);
    out.assign(&x.permuted_axes(order));
}

/// When permuting `shape` by `axes` keeps some leading axes and swaps the
/// two groups of axes after them (`[0, 3, 1, 2]`, NHWC to NCHW, swaps
/// `[h, w]` with `[c]`), the permutation of a row-major array is a batch
/// of matrix transposes: `(batch, rows, cols)`, the products of the sizes
/// of the three groups, the input holding `batch` matrices of
/// `rows × cols` and the output their transposes.
fn batched_transpose(shape: &[usize], axes: &[usize]) -> Option<(usize, usize, usize)> {
    let kept = axes
        .iter()
        .enumerate()
        .take_while(|&(k, &a)| k == a)
        .count();
    let rest = &axes[kept..];
    let split = *rest.first()?;
    let swapped = (split..axes.len()).chain(kept..split);
    if split <= kept || !rest.iter().copied().eq(swapped) {
        return None;
    }
    let product = |range: core::ops::Range<usize>| shape[range].iter().product::<usize>();
    Some((
        product(0..kept),
        product(kept..split),
        product(split..axes.len()),
    ))
}

/// `target[b][j][i] = source[b][i][j]` for `batch` matrices of
/// `rows × cols` stored one after another, in blocks of 8 × 8 so that
/// both sides are read and written a few cache lines at a time (whole
/// blocks transposed in registers on AVX2).
fn transpose_blocks(source: &[f32], target: &mut [f32], batch: usize, rows: usize, cols: usize) {
    const BLOCK: usize = 8;
    let size = rows * cols;
    if rows == 1 || cols == 1 {
        // A vector's transpose is the vector: one copy.
        target[..batch * size].copy_from_slice(&source[..batch * size]);
        return;
    }
    if size == 0 {
        return;
    }
    let matrices = source.chunks_exact(size).zip(target.chunks_exact_mut(size));
    for (from, to) in matrices.take(batch) {
        for i0 in (0..rows).step_by(BLOCK) {
            let i1 = (i0 + BLOCK).min(rows);
            for j0 in (0..cols).step_by(BLOCK) {
                let j1 = (j0 + BLOCK).min(cols);
                #[cfg(target_arch = "x86_64")]
                if i1 - i0 == BLOCK && j1 - j0 == BLOCK {
                    let (from, to) = (&from[i0 * cols + j0..], &mut to[j0 * rows + i0..]);
                    if super::simd::transpose_block8(from, cols, to, rows) {
                        continue;
                    }
                }
                for i in i0..i1 {
                    let row = &from[i * cols + j0..i * cols + j1];
                    for (column, &value) in to[j0 * rows + i..].iter_mut().step_by(rows).zip(row) {
                        *column = value;
                    }
                }
            }
        }
    }
}

/// [`transpose`] into caller storage of the reversed shape.
///
/// # Panics
/// If `out` does not have `x`'s shape reversed.
///
/// ```
/// use graph_runtime::kernels::movement::transpose_into;
/// use ndarray::{array, Array2};
///
/// let mut out = Array2::zeros((3, 1));
/// transpose_into(array![[1.0_f32, 2.0, 3.0]].view(), out.view_mut());
/// assert_eq!(out, array![[1.0], [2.0], [3.0]]);
/// ```
#[track_caller]
pub fn transpose_into<D: Dimension>(x: ArrayView<'_, f32, D>, mut out: ArrayViewMut<'_, f32, D>) {
    let reversed = x.reversed_axes();
    if reversed.shape() != out.shape() {
        shape_panic("transpose", &[reversed.shape(), out.shape()]);
    }
    out.assign(&reversed);
}

/// [`reshape`] into caller storage: `out`'s shape is the new shape, and
/// elements are read and written in row-major order.
///
/// # Panics
/// If `out` does not hold as many elements as `x`.
///
/// ```
/// use graph_runtime::kernels::movement::reshape_into;
/// use ndarray::{array, Array1};
///
/// let x = array![[1.0_f32, 2.0], [3.0, 4.0]];
/// let mut flat = Array1::zeros(4);
/// reshape_into(x.t(), flat.view_mut());
/// assert_eq!(flat, array![1.0, 3.0, 2.0, 4.0]);
/// ```
#[track_caller]
pub fn reshape_into<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    out: ArrayViewMut<'_, f32, O>,
) {
    if out.len() != x.len() {
        shape_panic("reshape", &[x.shape(), out.shape()]);
    }
    copy_row_major(x, out);
}

/// Panics unless `parts` can be joined along `axis` (into `out`'s shape,
/// if given).
#[track_caller]
fn check_concat<D: Dimension>(parts: &[ArrayView<'_, f32, D>], axis: usize, out: Option<&[usize]>) {
    let fits = parts.first().is_some_and(|first| {
        axis < first.ndim()
            && parts.iter().all(|part| {
                part.ndim() == first.ndim()
                    && (0..first.ndim())
                        .all(|k| k == axis || part.len_of(Axis(k)) == first.len_of(Axis(k)))
            })
            && out.is_none_or(|out| {
                out.len() == first.ndim()
                    && (0..first.ndim()).all(|k| {
                        let expected = if k == axis {
                            parts.iter().map(|part| part.len_of(Axis(k))).sum()
                        } else {
                            first.len_of(Axis(k))
                        };
                        out[k] == expected
                    })
            })
    });
    if !fits {
        let shapes: Vec<&[usize]> = parts.iter().map(ArrayView::shape).chain(out).collect();
        shape_panic("concat", &shapes);
    }
}

/// [`concat()`] into caller storage of the joined shape.
///
/// # Panics
/// As [`concat()`], and if `out` does not have the joined shape.
///
/// ```
/// use graph_runtime::kernels::movement::concat_into;
/// use ndarray::{array, Array2};
///
/// let a = array![[1.0_f32, 2.0]];
/// let b = array![[3.0_f32], [4.0]];
/// let mut out = Array2::zeros((2, 2));
/// concat_into(&[a.t(), b.view()], 1, out.view_mut());
/// assert_eq!(out, array![[1.0, 3.0], [2.0, 4.0]]);
/// ```
#[track_caller]
pub fn concat_into<D: Dimension>(
    parts: &[ArrayView<'_, f32, D>],
    axis: usize,
    mut out: ArrayViewMut<'_, f32, D>,
) {
    check_concat(parts, axis, Some(out.shape()));
    let mut start = 0;
    for part in parts {
        let end = start + part.len_of(Axis(axis));
        out.slice_axis_mut(Axis(axis), Slice::from(start..end))
            .assign(part);
        start = end;
    }
}

/// [`slice()`] into caller storage of the sliced shape.
///
/// # Panics
/// As [`slice()`], and if `out` does not have the sliced shape.
///
/// ```
/// use graph_runtime::kernels::movement::slice_into;
/// use ndarray::{array, Array2};
///
/// let x = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// let mut out = Array2::zeros((2, 2));
/// slice_into(x.view(), 1, 1, 3, out.view_mut());
/// assert_eq!(out, array![[2.0, 3.0], [5.0, 6.0]]);
/// ```
#[track_caller]
pub fn slice_into<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    axis: usize,
    start: usize,
    end: usize,
    mut out: ArrayViewMut<'_, f32, D>,
) {
    if axis >= x.ndim() || start > end || end > x.len_of(Axis(axis)) {
        shape_panic("slice", &[x.shape(), &[axis, start, end], out.shape()]);
    }
    let part = x.slice_axis(Axis(axis), Slice::from(start..end));
    if part.shape() != out.shape() {
        shape_panic("slice", &[x.shape(), &[axis, start, end], out.shape()]);
    }
    out.assign(&part);
}

/// [`broadcast_to`] into caller storage: `out`'s shape is the target shape.
///
/// # Panics
/// If `x` does not broadcast to exactly `out`'s shape.
///
/// ```
/// use graph_runtime::kernels::movement::broadcast_to_into;
/// use ndarray::{array, Array2};
///
/// let mut out = Array2::zeros((2, 2));
/// broadcast_to_into(array![1.0_f32, 2.0].view(), out.view_mut());
/// assert_eq!(out, array![[1.0, 2.0], [1.0, 2.0]]);
/// ```
#[track_caller]
pub fn broadcast_to_into<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    mut out: ArrayViewMut<'_, f32, O>,
) {
    let operands = [x.shape(), out.shape()];
    if !is_broadcast_of(out.shape(), &operands) {
        shape_panic("broadcast_to", &operands);
    }
    let dim = out.raw_dim();
    let stretched = stretch("broadcast_to", &operands, &x, &dim);
    Zip::from(&mut out).and(&stretched).for_each(|o, &v| *o = v);
}

/// [`expand_dims`] into caller storage of the expanded shape.
///
/// # Panics
/// If `axis > rank`, or `out` is not `x`'s shape with a 1 inserted at
/// `axis`.
///
/// ```
/// use graph_runtime::kernels::movement::expand_dims_into;
/// use ndarray::{array, Array2};
///
/// let mut out = Array2::zeros((2, 1));
/// expand_dims_into(array![1.0_f32, 2.0].view(), 1, out.view_mut());
/// assert_eq!(out, array![[1.0], [2.0]]);
/// ```
#[track_caller]
pub fn expand_dims_into<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    axis: usize,
    out: ArrayViewMut<'_, f32, O>,
) {
    let fits = axis <= x.ndim()
        && out.ndim() == x.ndim() + 1
        && out.len_of(Axis(axis)) == 1
        && (0..x.ndim()).all(|k| {
            let target = if k < axis { k } else { k + 1 };
            out.len_of(Axis(target)) == x.len_of(Axis(k))
        });
    if !fits {
        shape_panic("expand_dims", &[x.shape(), &[axis], out.shape()]);
    }
    // A unit axis leaves the row-major order of the elements unchanged.
    copy_row_major(x, out);
}

/// Panics unless `axes` are distinct axes of `x` of length 1.
#[track_caller]
fn check_squeeze(x: &ArrayView<'_, f32, impl Dimension>, axes: &[usize]) {
    let valid = axes.iter().enumerate().all(|(i, &axis)| {
        axis < x.ndim() && x.len_of(Axis(axis)) == 1 && !axes[..i].contains(&axis)
    });
    if !valid {
        shape_panic("squeeze", &[x.shape(), axes]);
    }
}

/// [`squeeze`] into caller storage of the squeezed shape.
///
/// # Panics
/// As [`squeeze`], and if `out` does not have the squeezed shape.
///
/// ```
/// use graph_runtime::kernels::movement::squeeze_into;
/// use ndarray::{array, Array1};
///
/// let mut out = Array1::zeros(2);
/// squeeze_into(array![[[1.0_f32], [2.0]]].view(), &[0, 2], out.view_mut());
/// assert_eq!(out, array![1.0, 2.0]);
/// ```
#[track_caller]
pub fn squeeze_into<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    axes: &[usize],
    out: ArrayViewMut<'_, f32, O>,
) {
    check_squeeze(&x, axes);
    let mut kept = (0..x.ndim()).filter(|axis| !axes.contains(axis));
    let fits = out.ndim() + axes.len() == x.ndim()
        && out
            .shape()
            .iter()
            .all(|&len| kept.next().is_some_and(|axis| x.len_of(Axis(axis)) == len));
    if !fits {
        shape_panic("squeeze", &[x.shape(), axes, out.shape()]);
    }
    // Removing unit axes leaves the row-major order unchanged.
    copy_row_major(x, out);
}

/// Pads with a constant, as `numpy.pad(x, paddings, constant_values=value)`
/// and `tf.pad`: axis `a` gains `paddings[a][0]` elements of `value` before
/// `x`'s and `paddings[a][1]` after.
///
/// # Panics
/// If `paddings` does not have one `[before, after]` pair per axis of `x`.
///
/// ```
/// use graph_runtime::kernels::movement::pad;
/// use ndarray::array;
///
/// let x = array![[1.0_f32, 2.0], [3.0, 4.0]];
/// let y = pad(x.view(), &[[1, 0], [0, 2]], -1.0);
/// assert_eq!(y, array![[-1.0, -1.0, -1.0, -1.0], [1.0, 2.0, -1.0, -1.0], [3.0, 4.0, -1.0, -1.0]]);
/// ```
#[track_caller]
#[must_use]
pub fn pad<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    paddings: &[[usize; 2]],
    value: f32,
) -> Array<f32, D> {
    if paddings.len() != x.ndim() {
        shape_panic("pad", &[x.shape(), &[paddings.len()]]);
    }
    let mut dim = x.raw_dim();
    for (axis, &pair) in paddings.iter().enumerate() {
        dim[axis] =
            padded(dim[axis], pair).unwrap_or_else(|| shape_panic("pad", &[x.shape(), &pair]));
    }
    let mut out = Array::zeros(dim);
    pad_into(x, paddings, value, out.view_mut());
    out
}

/// An axis of `len` elements padded by `[before, after]`, unless that
/// overflows.
fn padded(len: usize, [before, after]: [usize; 2]) -> Option<usize> {
    len.checked_add(before)?.checked_add(after)
}

/// [`pad()`] into caller storage of the padded shape, of any layout; no
/// allocation.
///
/// # Panics
/// As [`pad()`], and if `out` does not have the padded shape.
///
/// ```
/// use graph_runtime::kernels::movement::{pad, pad_into};
/// use ndarray::{array, Array2};
///
/// let x = array![[1.0_f32, 2.0], [3.0, 4.0]];
/// let mut out = Array2::zeros((4, 3));
/// pad_into(x.t(), &[[1, 1], [0, 1]], 0.5, out.view_mut());
/// assert_eq!(out, pad(x.t(), &[[1, 1], [0, 1]], 0.5));
/// assert_eq!(out.row(1), array![1.0, 3.0, 0.5]);
/// ```
#[track_caller]
pub fn pad_into<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    paddings: &[[usize; 2]],
    value: f32,
    mut out: ArrayViewMut<'_, f32, D>,
) {
    let fits = paddings.len() == x.ndim()
        && x.shape()
            .iter()
            .zip(paddings)
            .zip(out.shape())
            .all(|((&len, &pair), &out_len)| padded(len, pair) == Some(out_len));
    if !fits {
        shape_panic("pad", &[x.shape(), &[paddings.len()], out.shape()]);
    }
    out.fill(value);
    let mut inside = out.view_mut();
    for (axis, (&[before, _], &len)) in paddings.iter().zip(x.shape()).enumerate() {
        inside.slice_axis_inplace(Axis(axis), Slice::from(before..before + len));
    }
    inside.assign(&x);
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // Expected values are exact by construction.
mod tests {

    #[test]
    fn batched_transposes_are_recognised() {
        let shape = [2, 3, 4, 5];
        assert_eq!(batched_transpose(&shape, &[0, 3, 1, 2]), Some((2, 12, 5)));
        assert_eq!(batched_transpose(&shape, &[0, 2, 3, 1]), Some((2, 3, 20)));
        assert_eq!(batched_transpose(&shape, &[2, 3, 0, 1]), Some((1, 6, 20)));
        assert_eq!(batched_transpose(&shape, &[0, 1, 3, 2]), Some((6, 4, 5)));
        // Not two swapped groups: the general path.
        for axes in [[0, 1, 2, 3], [1, 0, 3, 2], [3, 2, 1, 0], [0, 2, 1, 3]] {
            assert_eq!(batched_transpose(&shape, &axes), None, "{axes:?}");
        }
    }
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
    fn pad_surrounds_any_layout() {
        let x = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let y = pad(x.t(), &[[0, 1], [2, 0]], 9.0);
        assert!(y.is_standard_layout());
        assert_eq!(
            y,
            array![
                [9.0, 9.0, 1.0, 4.0],
                [9.0, 9.0, 2.0, 5.0],
                [9.0, 9.0, 3.0, 6.0],
                [9.0, 9.0, 9.0, 9.0]
            ]
        );
        let scalar = Array0::from_elem((), 7.0_f32);
        assert_eq!(pad(scalar.view(), &[], 0.0), scalar);
        let empty = Array2::<f32>::zeros((0, 2));
        assert_eq!(
            pad(empty.view(), &[[1, 0], [0, 0]], -2.0),
            array![[-2.0, -2.0]]
        );
    }

    #[test]
    #[should_panic(expected = "kernel `pad`")]
    fn pad_with_a_pair_missing_panics() {
        let _ = pad(Array2::<f32>::zeros((2, 3)).view(), &[[1, 1]], 0.0);
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
