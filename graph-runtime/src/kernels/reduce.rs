//! Reductions over a list of axes.
//!
//! `axes` are already-normalised axis numbers of the input, distinct, in any
//! order; the caller passes every axis to reduce everything and may pass none
//! (the result is then a copy). With `keep_dims` each reduced axis stays as a
//! length-1 axis, otherwise it is removed. The output rank `O` is chosen by the
//! caller and must match.
//!
//! Sums are accumulated in `f64` and rounded once. NaN propagates through every
//! reduction.
//!
//! Each kernel has an `_into` form writing into caller storage of the
//! result's shape. It accepts any layouts and allocates nothing, except
//! that views of more than four axes (ndarray keeps the shapes of those on
//! the heap) may allocate when `keep_dims` is false or for `argmax`/`argmin`.

use ndarray::{Array, ArrayView, ArrayView1, ArrayViewMut, Axis, Dimension, IxDyn, Zip};

use super::binary::dim_from_shape;
use super::shape_panic;

/// Sum over `axes`: `out = Σ x` over the reduced axes. The sum over an empty
/// axis is 0.
///
/// # Panics
/// If an axis is out of range or repeated, or `O` is not the result's rank.
///
/// ```
/// use graph_runtime::kernels::reduce::sum;
/// use ndarray::{array, Array1, Array2};
///
/// let x = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// let rows: Array1<f32> = sum(x.view(), &[1], false);
/// assert_eq!(rows, array![6.0, 15.0]);
/// let kept: Array2<f32> = sum(x.view(), &[0], true);
/// assert_eq!(kept, array![[5.0, 7.0, 9.0]]);
/// ```
#[track_caller]
pub fn sum<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    axes: &[usize],
    keep_dims: bool,
) -> Array<f32, O> {
    let mut out = Array::zeros(result_dim::<O>("sum", x.shape(), axes, keep_dims));
    sum_into(x, axes, keep_dims, out.view_mut());
    out
}

/// Mean over `axes`: `out = (Σ x) / count`, where `count` is the product of
/// the reduced axes' sizes. The mean over an empty axis is NaN (0 / 0), as in
/// numpy.
///
/// # Panics
/// As [`sum`].
///
/// ```
/// use graph_runtime::kernels::reduce::mean;
/// use ndarray::{array, Array0};
///
/// let x = array![[1.0_f32, 2.0], [3.0, 6.0]];
/// let all: Array0<f32> = mean(x.view(), &[0, 1], false);
/// assert_eq!(all.into_scalar(), 3.0);
/// ```
#[track_caller]
pub fn mean<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    axes: &[usize],
    keep_dims: bool,
) -> Array<f32, O> {
    let mut out = Array::zeros(result_dim::<O>("mean", x.shape(), axes, keep_dims));
    mean_into(x, axes, keep_dims, out.view_mut());
    out
}

/// Maximum over `axes`. The maximum over an empty axis is `-inf` (the
/// identity of `max`, as in TensorFlow); any NaN makes the result NaN.
///
/// # Panics
/// As [`sum`].
///
/// ```
/// use graph_runtime::kernels::reduce::max;
/// use ndarray::{array, Array1};
///
/// let x = array![[1.0_f32, 7.0], [3.0, -2.0]];
/// let y: Array1<f32> = max(x.view(), &[0], false);
/// assert_eq!(y, array![3.0, 7.0]);
/// ```
#[track_caller]
pub fn max<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    axes: &[usize],
    keep_dims: bool,
) -> Array<f32, O> {
    let mut out = Array::zeros(result_dim::<O>("max", x.shape(), axes, keep_dims));
    max_into(x, axes, keep_dims, out.view_mut());
    out
}

/// Minimum over `axes`. The minimum over an empty axis is `+inf`; any NaN
/// makes the result NaN.
///
/// # Panics
/// As [`sum`].
///
/// ```
/// use graph_runtime::kernels::reduce::min;
/// use ndarray::{array, Array1};
///
/// let x = array![[1.0_f32, 7.0], [3.0, -2.0]];
/// let y: Array1<f32> = min(x.view(), &[1], false);
/// assert_eq!(y, array![1.0, -2.0]);
/// ```
#[track_caller]
pub fn min<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    axes: &[usize],
    keep_dims: bool,
) -> Array<f32, O> {
    let mut out = Array::zeros(result_dim::<O>("min", x.shape(), axes, keep_dims));
    min_into(x, axes, keep_dims, out.view_mut());
    out
}

/// Index of the largest element along `axis`, which is removed:
/// `out[..] = argmax_i x[.., i, ..]`. Ties go to the first index and a NaN
/// counts as larger than everything (the first NaN wins), as in numpy.
///
/// # Panics
/// If `axis` is out of range or has length 0 (no index to return), or `O` is
/// not one rank less than `x`.
///
/// ```
/// use graph_runtime::kernels::reduce::argmax;
/// use ndarray::{array, Array1};
///
/// let x = array![[1.0_f32, 9.0, 9.0], [4.0, 0.0, 2.0]];
/// let y: Array1<usize> = argmax(x.view(), 1);
/// assert_eq!(y, array![1, 0]);
/// ```
#[track_caller]
pub fn argmax<O: Dimension>(x: ArrayView<'_, f32, impl Dimension>, axis: usize) -> Array<usize, O> {
    let mut out = Array::zeros(arg_dim::<O>("argmax", x.shape(), axis));
    argmax_into(x, axis, out.view_mut());
    out
}

/// Index of the smallest element along `axis`, which is removed. Ties go to
/// the first index and the first NaN wins, as in numpy.
///
/// # Panics
/// As [`argmax`].
///
/// ```
/// use graph_runtime::kernels::reduce::argmin;
/// use ndarray::{array, Array1};
///
/// let x = array![[1.0_f32, 9.0, 1.0], [4.0, 0.0, 2.0]];
/// let y: Array1<usize> = argmin(x.view(), 1);
/// assert_eq!(y, array![0, 1]);
/// ```
#[track_caller]
pub fn argmin<O: Dimension>(x: ArrayView<'_, f32, impl Dimension>, axis: usize) -> Array<usize, O> {
    let mut out = Array::zeros(arg_dim::<O>("argmin", x.shape(), axis));
    argmin_into(x, axis, out.view_mut());
    out
}

/// `max` that lets NaN win from either side.
pub(crate) fn nan_max(a: f32, b: f32) -> f32 {
    if a.is_nan() || a >= b {
        a
    } else {
        b
    }
}

fn nan_min(a: f32, b: f32) -> f32 {
    if a.is_nan() || a <= b {
        a
    } else {
        b
    }
}

#[allow(clippy::cast_possible_truncation)] // Rounding the f64 accumulator is the point.
fn narrow(x: f64) -> f32 {
    x as f32
}

/// `[`sum`]` of one block of `x`: the f64 total.
fn block_sum(block: &ArrayView<'_, f32, impl Dimension>) -> f64 {
    match block.as_slice_memory_order() {
        // Four partial sums: the f64 additions are not one serial chain.
        Some(slice) => {
            let mut partial = [0.0_f64; 4];
            let mut chunks = slice.chunks_exact(4);
            for chunk in &mut chunks {
                for (p, &v) in partial.iter_mut().zip(chunk) {
                    *p += f64::from(v);
                }
            }
            let tail: f64 = chunks.remainder().iter().map(|&v| f64::from(v)).sum();
            (partial[0] + partial[1]) + (partial[2] + partial[3]) + tail
        }
        None => block.iter().map(|&v| f64::from(v)).sum(),
    }
}

/// Panics unless every axis of `axes` is an axis of `x`, listed once.
#[track_caller]
fn check_axes(kernel: &str, x: &[usize], axes: &[usize]) {
    let repeated = axes
        .iter()
        .enumerate()
        .any(|(i, axis)| axes[..i].contains(axis));
    if repeated || axes.iter().any(|&axis| axis >= x.len()) {
        shape_panic(kernel, &[x, axes]);
    }
}

/// The dimension of a reduction's result (allocating forms only).
#[track_caller]
fn result_dim<O: Dimension>(kernel: &str, x: &[usize], axes: &[usize], keep_dims: bool) -> O {
    check_axes(kernel, x, axes);
    let shape: Vec<usize> = (0..x.len())
        .filter_map(|axis| match (axes.contains(&axis), keep_dims) {
            (false, _) => Some(x[axis]),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect();
    dim_from_shape(kernel, &[x, axes], &shape)
}

/// `out` as a view with `x`'s rank: the reduced axes present with length 1.
/// Panics unless `out` has the result's shape.
#[track_caller]
fn keep_dims_view<'a, D: Dimension, O: Dimension>(
    kernel: &str,
    x: &ArrayView<'_, f32, D>,
    axes: &[usize],
    keep_dims: bool,
    out: ArrayViewMut<'a, f32, O>,
) -> ArrayViewMut<'a, f32, D> {
    check_axes(kernel, x.shape(), axes);
    let rank = if keep_dims {
        x.ndim()
    } else {
        x.ndim() - axes.len()
    };
    let mut out_axis = 0;
    let mut fits = out.ndim() == rank;
    for axis in 0..x.ndim() {
        let reduced = axes.contains(&axis);
        if fits && (!reduced || keep_dims) {
            let expected = if reduced { 1 } else { x.len_of(Axis(axis)) };
            fits = out.len_of(Axis(out_axis)) == expected;
            out_axis += 1;
        }
    }
    if !fits {
        shape_panic(kernel, &[x.shape(), axes, out.shape()]);
    }
    let mut view = out.into_dyn();
    if !keep_dims {
        for axis in 0..x.ndim() {
            if axes.contains(&axis) {
                view.insert_axis_inplace(Axis(axis));
            }
        }
    }
    match view.into_dimensionality::<D>() {
        Ok(view) => view,
        Err(_) => unreachable!("the view was given x's rank"),
    }
}

/// Writes `fold(block)` for each block of `x` that one result covers (its
/// extent along the reduced axes, 1 along the others), or `empty` everywhere
/// when a reduced axis has length 0. `whole(x, out)` may write every result
/// at once instead (a faster pass computing the same values), returning
/// whether it did.
#[track_caller]
#[allow(clippy::too_many_arguments)] // The reduction's operands and its two folds.
fn reduce_into<D: Dimension, O: Dimension>(
    kernel: &str,
    x: ArrayView<'_, f32, D>,
    axes: &[usize],
    keep_dims: bool,
    out: ArrayViewMut<'_, f32, O>,
    empty: f32,
    fold: impl Fn(ArrayView<'_, f32, D>) -> f32,
    whole: impl FnOnce(&ArrayView<'_, f32, D>, &mut ArrayViewMut<'_, f32, D>) -> bool,
) {
    let mut out = keep_dims_view(kernel, &x, axes, keep_dims, out);
    if axes.iter().any(|&axis| x.len_of(Axis(axis)) == 0) {
        out.fill(empty);
        return;
    }
    if whole(&x, &mut out) {
        return;
    }
    Zip::from(&mut out)
        .and(x.exact_chunks(block_dim(&x, axes)))
        .for_each(|o, block| *o = fold(block));
}

/// The extent of the block of `x` that one result of a reduction over
/// `axes` covers: `x`'s length along the reduced axes, 1 along the others.
fn block_dim<D: Dimension>(x: &ArrayView<'_, f32, D>, axes: &[usize]) -> D {
    let mut block = x.raw_dim();
    for axis in 0..x.ndim() {
        if !axes.contains(&axis) {
            block[axis] = 1;
        }
    }
    block
}

/// [`reduce_into`] for the sums behind [`sum`] and [`mean`]: each result is
/// `finish(total, count)` of the `f64` total of its `count` values.
///
/// A reduction over the leading axes of a standard-layout input (a bias
/// gradient, the column sums of an `[n, c]` matrix) adds whole rows into a
/// block of accumulators on the stack ([`sum_leading_axes`]), rather than
/// walking each strided column on its own: the same additions in the same
/// order, so the same results, at the speed of a contiguous pass.
#[track_caller]
fn sum_reduce_into<D: Dimension, O: Dimension>(
    kernel: &str,
    x: ArrayView<'_, f32, D>,
    axes: &[usize],
    keep_dims: bool,
    out: ArrayViewMut<'_, f32, O>,
    empty: f32,
    finish: impl Fn(f64, usize) -> f32,
) {
    reduce_into(
        kernel,
        x,
        axes,
        keep_dims,
        out,
        empty,
        |block| finish(block_sum(&block), block.len()),
        |x, out| sum_leading_axes(x, axes, out, &finish),
    );
}

/// Columns summed per pass of [`sum_leading_axes`]: 2 KiB of `f64`
/// accumulators, which stay in L1 while the rows stream past.
const COLUMN_BLOCK: usize = 256;

/// The sums over `axes` when they are the leading axes of `x` (but not all
/// of them) and `x` and `out` are in standard layout: `x` as an `[r, c]`
/// matrix, each result the sum of a column, accumulated row after row.
/// Returns whether it applied.
fn sum_leading_axes<D: Dimension>(
    x: &ArrayView<'_, f32, D>,
    axes: &[usize],
    out: &mut ArrayViewMut<'_, f32, D>,
    finish: &impl Fn(f64, usize) -> f32,
) -> bool {
    let leading = axes.len();
    if leading == 0 || leading >= x.ndim() || axes.iter().any(|&axis| axis >= leading) {
        return false;
    }
    let rows: usize = x.shape()[..leading].iter().product();
    let columns = x.len() / rows;
    let (Some(values), Some(results)) = (x.as_slice(), out.as_slice_mut()) else {
        return false;
    };
    if columns < 2 || results.len() != columns {
        // One column is contiguous already: the block path sums it faster.
        return false;
    }
    let mut totals = [0.0_f64; COLUMN_BLOCK];
    // Four columns per AVX2 vector of `f64`s where the CPU has it (twice
    // the baseline's two), each column still summed row after row.
    super::vectorised(|| {
        for c0 in (0..columns).step_by(COLUMN_BLOCK) {
            let width = COLUMN_BLOCK.min(columns - c0);
            let totals = &mut totals[..width];
            // −0.0 is the identity of `+` (0.0 is not, for −0.0 itself), as
            // in the serial sum of a strided block.
            totals.fill(-0.0);
            for row in values.chunks_exact(columns) {
                for (total, &v) in totals.iter_mut().zip(&row[c0..c0 + width]) {
                    *total += f64::from(v);
                }
            }
            for (result, &total) in results[c0..c0 + width].iter_mut().zip(totals.iter()) {
                *result = finish(total, rows);
            }
        }
    });
    true
}

/// [`sum`] into caller storage of the result's shape.
///
/// # Panics
/// As [`sum`], and if `out` does not have the result's shape.
///
/// ```
/// use graph_runtime::kernels::reduce::{sum, sum_into};
/// use ndarray::{array, Array1};
///
/// let x = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// let mut out = Array1::zeros(3);
/// sum_into(x.t(), &[1], false, out.view_mut());
/// assert_eq!(out, array![5.0, 7.0, 9.0]);
/// ```
#[track_caller]
pub fn sum_into<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    axes: &[usize],
    keep_dims: bool,
    out: ArrayViewMut<'_, f32, O>,
) {
    sum_reduce_into("sum", x, axes, keep_dims, out, 0.0, |total, _| {
        narrow(total)
    });
}

/// [`mean`] into caller storage of the result's shape. Over axes 1 and 2 of
/// an NHWC image this is global average pooling.
///
/// # Panics
/// As [`mean`], and if `out` does not have the result's shape.
///
/// ```
/// use graph_runtime::kernels::reduce::mean_into;
/// use ndarray::{array, Array2, Array4};
///
/// let images = Array4::from_shape_fn((2, 3, 3, 4), |(b, _, _, c)| (b * 10 + c) as f32);
/// let mut pooled = Array2::zeros((2, 4));
/// mean_into(images.view(), &[1, 2], false, pooled.view_mut());
/// assert_eq!(pooled.row(1), array![10.0, 11.0, 12.0, 13.0]);
/// ```
#[track_caller]
pub fn mean_into<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    axes: &[usize],
    keep_dims: bool,
    out: ArrayViewMut<'_, f32, O>,
) {
    sum_reduce_into("mean", x, axes, keep_dims, out, f32::NAN, |total, count| {
        narrow(total / count as f64)
    });
}

/// [`max`] into caller storage of the result's shape.
///
/// # Panics
/// As [`max`], and if `out` does not have the result's shape.
///
/// ```
/// use graph_runtime::kernels::reduce::max_into;
/// use ndarray::{array, Array2};
///
/// let x = array![[1.0_f32, 7.0], [3.0, -2.0]];
/// let mut out = Array2::zeros((2, 1));
/// max_into(x.view(), &[1], true, out.view_mut());
/// assert_eq!(out, array![[7.0], [3.0]]);
/// ```
#[track_caller]
pub fn max_into<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    axes: &[usize],
    keep_dims: bool,
    out: ArrayViewMut<'_, f32, O>,
) {
    reduce_into(
        "max",
        x,
        axes,
        keep_dims,
        out,
        f32::NEG_INFINITY,
        |block| block.fold(f32::NEG_INFINITY, |a, &b| nan_max(a, b)),
        |_, _| false,
    );
}

/// [`min`] into caller storage of the result's shape.
///
/// # Panics
/// As [`min`], and if `out` does not have the result's shape.
///
/// ```
/// use graph_runtime::kernels::reduce::min_into;
/// use ndarray::{array, Array1};
///
/// let x = array![[1.0_f32, 7.0], [3.0, -2.0]];
/// let mut out = Array1::zeros(2);
/// min_into(x.view(), &[0], false, out.view_mut());
/// assert_eq!(out, array![1.0, -2.0]);
/// ```
#[track_caller]
pub fn min_into<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    axes: &[usize],
    keep_dims: bool,
    out: ArrayViewMut<'_, f32, O>,
) {
    reduce_into(
        "min",
        x,
        axes,
        keep_dims,
        out,
        f32::INFINITY,
        |block| block.fold(f32::INFINITY, |a, &b| nan_min(a, b)),
        |_, _| false,
    );
}

/// [`argmax`] into caller storage of the result's shape (`x`'s without
/// `axis`).
///
/// # Panics
/// As [`argmax`], and if `out` does not have the result's shape.
///
/// ```
/// use graph_runtime::kernels::reduce::argmax_into;
/// use ndarray::{array, Array1};
///
/// let x = array![[1.0_f32, 9.0, 9.0], [4.0, 0.0, 2.0]];
/// let mut out = Array1::zeros(2);
/// argmax_into(x.view(), 1, out.view_mut());
/// assert_eq!(out, array![1, 0]);
/// ```
#[track_caller]
pub fn argmax_into<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    axis: usize,
    out: ArrayViewMut<'_, usize, O>,
) {
    arg_extreme_into("argmax", x, axis, out, |candidate, best| candidate > best);
}

/// [`argmin`] into caller storage of the result's shape (`x`'s without
/// `axis`).
///
/// # Panics
/// As [`argmin`], and if `out` does not have the result's shape.
///
/// ```
/// use graph_runtime::kernels::reduce::argmin_into;
/// use ndarray::{array, Array1};
///
/// let x = array![[1.0_f32, 9.0, 1.0], [4.0, 0.0, 2.0]];
/// let mut out = Array1::zeros(2);
/// argmin_into(x.view(), 1, out.view_mut());
/// assert_eq!(out, array![0, 1]);
/// ```
#[track_caller]
pub fn argmin_into<O: Dimension>(
    x: ArrayView<'_, f32, impl Dimension>,
    axis: usize,
    out: ArrayViewMut<'_, usize, O>,
) {
    arg_extreme_into("argmin", x, axis, out, |candidate, best| candidate < best);
}

/// The dimension of an `argmax`/`argmin` result (allocating forms only).
#[track_caller]
fn arg_dim<O: Dimension>(kernel: &str, x: &[usize], axis: usize) -> O {
    if axis >= x.len() || x[axis] == 0 {
        shape_panic(kernel, &[x, &[axis]]);
    }
    let mut shape = x.to_vec();
    shape.remove(axis);
    dim_from_shape(kernel, &[x, &[axis]], &shape)
}

#[track_caller]
fn arg_extreme_into<O: Dimension>(
    kernel: &str,
    x: ArrayView<'_, f32, impl Dimension>,
    axis: usize,
    out: ArrayViewMut<'_, usize, O>,
    better: impl Fn(f32, f32) -> bool,
) {
    let fits = axis < x.ndim()
        && x.len_of(Axis(axis)) > 0
        && out.ndim() + 1 == x.ndim()
        && (0..out.ndim()).all(|k| {
            let source = if k < axis { k } else { k + 1 };
            out.len_of(Axis(k)) == x.len_of(Axis(source))
        });
    if !fits {
        shape_panic(kernel, &[x.shape(), &[axis], out.shape()]);
    }
    let lanes = x.into_dyn();
    let Ok(mut out) = out.into_dyn().into_dimensionality::<IxDyn>() else {
        unreachable!("a dynamic view converts to itself")
    };
    Zip::from(&mut out)
        .and(lanes.lanes(Axis(axis)))
        .for_each(|index, lane| *index = arg_extreme_lane(lane, &better));
}

fn arg_extreme_lane(lane: ArrayView1<'_, f32>, better: impl Fn(f32, f32) -> bool) -> usize {
    let mut best = lane[0];
    let mut index = 0;
    for (i, &candidate) in lane.iter().enumerate().skip(1) {
        if best.is_nan() {
            break;
        }
        if candidate.is_nan() || better(candidate, best) {
            best = candidate;
            index = i;
        }
    }
    index
}

/// The number of elements of `x` along `axes` (the product of their
/// sizes), as an `f32`: what a mean over those axes divides by, known only
/// at run time when a size is symbolic. Any element type.
///
/// ```
/// use graph_runtime::kernels::reduce::count;
/// use ndarray::Array3;
///
/// let x = Array3::<usize>::zeros((4, 3, 2));
/// assert_eq!(count(x.view(), &[0, 2]), 8.0);
/// assert_eq!(count(x.view(), &[]), 1.0);
/// ```
///
/// # Panics
/// If an axis is out of range for `x`.
#[must_use]
#[track_caller]
pub fn count<T, D: Dimension>(x: ArrayView<'_, T, D>, axes: &[usize]) -> f32 {
    axes.iter()
        .map(|&axis| x.len_of(Axis(axis)))
        .product::<usize>() as f32
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // Expected values are exact by construction.
mod tests {
    use super::*;
    use ndarray::{array, Array0, Array1, Array2, Array3};

    #[test]
    fn empty_axis_list_copies() {
        let x = array![[1.0_f32, 2.0], [3.0, 4.0]];
        let y: Array2<f32> = sum(x.view(), &[], false);
        assert_eq!(y, x);
        let m: Array2<f32> = max(x.t(), &[], true);
        assert_eq!(m, x.t());
    }

    #[test]
    fn zero_length_axes_give_identities() {
        let x = Array2::<f32>::zeros((0, 3));
        let s: Array1<f32> = sum(x.view(), &[0], false);
        assert_eq!(s, array![0.0, 0.0, 0.0]);
        let hi: Array1<f32> = max(x.view(), &[0], false);
        assert_eq!(hi[0], f32::NEG_INFINITY);
        let lo: Array1<f32> = min(x.view(), &[0], false);
        assert_eq!(lo[0], f32::INFINITY);
        let m: Array1<f32> = mean(x.view(), &[0], false);
        assert!(m[0].is_nan());
        let e: Array1<f32> = sum(x.view(), &[1], false);
        assert_eq!(e.len(), 0);
    }

    #[test]
    fn nan_propagates() {
        let x = array![1.0_f32, f32::NAN, 3.0];
        let s: Array0<f32> = sum(x.view(), &[0], false);
        let hi: Array0<f32> = max(x.view(), &[0], false);
        let lo: Array0<f32> = min(x.view(), &[0], false);
        assert!(s.into_scalar().is_nan() && hi.into_scalar().is_nan() && lo.into_scalar().is_nan());
        let first_nan: Array0<usize> = argmax(array![1.0_f32, f32::NAN, f32::NAN].view(), 0);
        assert_eq!(first_nan.into_scalar(), 1);
        let nan_min_index: Array0<usize> = argmin(array![1.0_f32, f32::NAN].view(), 0);
        assert_eq!(nan_min_index.into_scalar(), 1);
    }

    #[test]
    fn rank_zero_input() {
        let x = Array0::from_elem((), 5.0_f32);
        let y: Array0<f32> = mean(x.view(), &[], true);
        assert_eq!(y.into_scalar(), 5.0);
    }

    #[test]
    fn several_axes_keep_dims() {
        let x = Array3::<f32>::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 12 + j * 4 + k) as f32);
        let y: Array3<f32> = sum(x.view(), &[2, 0], true);
        assert_eq!(y.shape(), &[1, 3, 1]);
        // Hand sums: j = 0 covers 0..4 and 12..16.
        assert_eq!(y[[0, 0, 0]], (0..4).chain(12..16).sum::<i32>() as f32);
    }

    /// The f64 sum of `values` added one after the other, rounded once.
    fn serial_sum(values: impl Iterator<Item = f32>) -> f64 {
        values.fold(-0.0, |total, v| total + f64::from(v))
    }

    #[test]
    fn leading_axis_sums_match_serial_column_sums() {
        // 300 columns cross a block of accumulators; values of mixed
        // magnitude make the rounding depend on the order of the additions.
        let x = Array2::<f32>::from_shape_fn((37, 300), |(i, j)| {
            let v = ((i * 131 + j * 71) % 97) as f32 - 48.0;
            v * [1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1000.0][(i + j) % 7]
        });
        let sums: Array2<f32> = sum(x.view(), &[0], true);
        let means: Array1<f32> = mean(x.view(), &[0], false);
        for j in 0..300 {
            let total = serial_sum(x.column(j).iter().copied());
            assert_eq!(sums[[0, j]], narrow(total), "column {j}");
            assert_eq!(means[j], narrow(total / 37.0), "column {j}");
        }
        // The same sums from a layout that takes the strided path.
        let transposed = x.t().to_owned();
        let strided: Array1<f32> = sum(transposed.t(), &[0], false);
        assert_eq!(strided, sums.row(0));
    }

    #[test]
    fn sums_over_two_leading_axes_and_nan_columns() {
        let mut x =
            Array3::<f32>::from_shape_fn((3, 4, 5), |(i, j, k)| (i * 20 + j * 5 + k) as f32);
        x[[2, 1, 3]] = f32::NAN;
        let y: Array1<f32> = sum(x.view(), &[1, 0], false);
        for k in 0..5 {
            // Hand sum of (i·20 + j·5 + k) over i < 3, j < 4: 12·k + 4·60 + 3·30.
            let want = (12 * k + 240 + 90) as f32;
            if k == 3 {
                assert!(y[k].is_nan());
            } else {
                assert_eq!(y[k], want, "column {k}");
            }
        }
    }

    #[test]
    #[should_panic(
        expected = "kernel `sum` called with operands of incompatible shapes [[2], [0, 0]]"
    )]
    fn repeated_axis_panics() {
        let _: Array0<f32> = sum(array![1.0_f32, 2.0].view(), &[0, 0], false);
    }

    #[test]
    #[should_panic(expected = "kernel `argmax`")]
    fn argmax_of_empty_axis_panics() {
        let _: Array1<usize> = argmax(Array2::<f32>::zeros((3, 0)).view(), 1);
    }
}
