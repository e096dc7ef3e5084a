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

use ndarray::{Array, ArrayD, ArrayView, Axis, Dimension, IxDyn, Zip};

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
    let sums = fold_axes(
        "sum",
        &x,
        axes,
        x.mapv(f64::from).into_dyn(),
        0.0,
        |a, b| a + b,
    );
    finish("sum", &x, axes, keep_dims, sums.mapv(narrow))
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
    let sums = fold_axes(
        "mean",
        &x,
        axes,
        x.mapv(f64::from).into_dyn(),
        0.0,
        |a, b| a + b,
    );
    let count: usize = axes.iter().map(|&axis| x.len_of(Axis(axis))).product();
    let count = count as f64;
    finish(
        "mean",
        &x,
        axes,
        keep_dims,
        sums.mapv(|s| narrow(s / count)),
    )
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
    let maxima = fold_axes(
        "max",
        &x,
        axes,
        x.to_owned().into_dyn(),
        f32::NEG_INFINITY,
        |a, b| nan_max(*a, *b),
    );
    finish("max", &x, axes, keep_dims, maxima)
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
    let minima = fold_axes(
        "min",
        &x,
        axes,
        x.to_owned().into_dyn(),
        f32::INFINITY,
        |a, b| nan_min(*a, *b),
    );
    finish("min", &x, axes, keep_dims, minima)
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
    arg_extreme("argmax", &x, axis, |candidate, best| candidate > best)
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
    arg_extreme("argmin", &x, axis, |candidate, best| candidate < best)
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

/// Checks `axes` against `x` and folds `values` (which has `x`'s shape) along
/// each of them, from the highest axis down so the lower numbers stay valid.
#[track_caller]
fn fold_axes<T: Clone>(
    kernel: &str,
    x: &ArrayView<'_, f32, impl Dimension>,
    axes: &[usize],
    mut values: ArrayD<T>,
    init: T,
    fold: impl Fn(&T, &T) -> T,
) -> ArrayD<T> {
    let mut sorted = axes.to_vec();
    sorted.sort_unstable();
    let repeated = sorted.windows(2).any(|pair| pair[0] == pair[1]);
    if repeated || sorted.last().is_some_and(|&axis| axis >= x.ndim()) {
        shape_panic(kernel, &[x.shape(), axes]);
    }
    for &axis in sorted.iter().rev() {
        values = values.fold_axis(Axis(axis), init.clone(), &fold);
    }
    values
}

/// Gives the folded values the output shape: the reduced axes removed, or
/// kept with length 1.
#[track_caller]
fn finish<T: Clone, O: Dimension>(
    kernel: &str,
    x: &ArrayView<'_, f32, impl Dimension>,
    axes: &[usize],
    keep_dims: bool,
    reduced: ArrayD<T>,
) -> Array<T, O> {
    let shape: Vec<usize> = if keep_dims {
        (0..x.ndim())
            .map(|axis| {
                if axes.contains(&axis) {
                    1
                } else {
                    x.len_of(Axis(axis))
                }
            })
            .collect()
    } else {
        reduced.shape().to_vec()
    };
    let dim: O = dim_from_shape(kernel, &[x.shape(), axes], &shape);
    // Folding returns standard layout; only an empty `axes` can leave the
    // input's own layout, which reshaping in row-major order needs undone.
    let reduced = if reduced.is_standard_layout() {
        reduced
    } else {
        reduced.as_standard_layout().into_owned()
    };
    match reduced
        .into_shape_with_order(IxDyn(&shape))
        .map(Array::into_dimensionality::<O>)
    {
        Ok(Ok(out)) if out.raw_dim() == dim => out,
        _ => shape_panic(kernel, &[x.shape(), axes]),
    }
}

#[track_caller]
fn arg_extreme<O: Dimension>(
    kernel: &str,
    x: &ArrayView<'_, f32, impl Dimension>,
    axis: usize,
    better: impl Fn(f32, f32) -> bool,
) -> Array<usize, O> {
    if axis >= x.ndim() || x.len_of(Axis(axis)) == 0 {
        shape_panic(kernel, &[x.shape(), &[axis]]);
    }
    let mut shape = x.shape().to_vec();
    shape.remove(axis);
    let dim: O = dim_from_shape(kernel, &[x.shape(), &[axis]], &shape);
    let lanes = x.view().into_dyn();
    let mut out = Array::zeros(IxDyn(&shape));
    Zip::from(&mut out)
        .and(lanes.lanes(Axis(axis)))
        .for_each(|index, lane| {
            let mut best = lane[0];
            for (i, &candidate) in lane.iter().enumerate().skip(1) {
                if best.is_nan() {
                    break;
                }
                if candidate.is_nan() || better(candidate, best) {
                    best = candidate;
                    *index = i;
                }
            }
        });
    match out.into_dimensionality::<O>() {
        Ok(out) if out.raw_dim() == dim => out,
        _ => shape_panic(kernel, &[x.shape(), &[axis]]),
    }
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
