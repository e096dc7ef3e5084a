//! Loss functions.
//!
//! The cross-entropies take logits (unnormalised log-probabilities) of shape
//! `[n, c]`, one row per example, and compute the log-softmax of each row
//! internally with the stable shift by the row maximum, so logits of any
//! magnitude give finite losses. Each comes in two forms: per example (an
//! `[n]` array, as TensorFlow's `softmax_cross_entropy_with_logits` returns)
//! and `_mean`, the mean of those over the batch (a scalar; NaN for an empty
//! batch, as `reduce_mean`). Sums are accumulated in `f64`.
//!
//! Class indices are data, so an out-of-range index is an [`Error`], never a
//! panic.
//!
//! The per-example kernels have `_into` forms writing into caller storage;
//! they, `mse` and the `_mean` forms never allocate (except to report an
//! error).

use ndarray::{
    Array, Array1, ArrayView, ArrayView1, ArrayView2, ArrayViewMut, ArrayViewMut1, Dimension, Zip,
};

use super::shape_panic;
use super::softmax::lane_shift;
use crate::Error;

/// Mean squared error over all elements: `out = (1/N)·Σ (pred − target)²`;
/// NaN when there are no elements.
///
/// # Panics
/// If `pred` and `target` have different shapes.
///
/// ```
/// use graph_runtime::kernels::loss::mse;
/// use ndarray::array;
///
/// let pred = array![[1.0_f32, 2.0], [3.0, 4.0]];
/// let target = array![[1.0_f32, 0.0], [3.0, 6.0]];
/// assert_eq!(mse(pred.view(), target.view()), 2.0);
/// ```
#[track_caller]
#[must_use]
pub fn mse(
    pred: ArrayView<'_, f32, impl Dimension>,
    target: ArrayView<'_, f32, impl Dimension>,
) -> f32 {
    if pred.shape() != target.shape() {
        shape_panic("mse", &[pred.shape(), target.shape()]);
    }
    let pred = pred.into_dyn();
    let target = target.into_dyn();
    let mut total = 0.0_f64;
    Zip::from(&pred).and(&target).for_each(|&p, &t| {
        let d = f64::from(p) - f64::from(t);
        total += d * d;
    });
    narrow(total / pred.len() as f64)
}

/// Softmax cross-entropy against probability labels, per example:
/// `out[i] = −Σ_j labels[i, j] · log_softmax(logits[i])[j]`.
///
/// `labels` rows are normally one-hot or probability distributions; any
/// weights are accepted. A zero label contributes nothing even where its
/// logit is `-inf`.
///
/// # Panics
/// If the shapes differ.
///
/// ```
/// use graph_runtime::kernels::loss::softmax_cross_entropy;
/// use ndarray::array;
///
/// let logits = array![[0.0_f32, 0.0], [1e4, 0.0]];
/// let labels = array![[1.0_f32, 0.0], [0.0, 1.0]];
/// let loss = softmax_cross_entropy(logits.view(), labels.view());
/// assert_eq!(loss, array![2.0_f32.ln(), 1e4]);
/// ```
#[track_caller]
#[must_use]
pub fn softmax_cross_entropy(
    logits: ArrayView2<'_, f32>,
    labels: ArrayView2<'_, f32>,
) -> Array1<f32> {
    if logits.shape() != labels.shape() {
        shape_panic("softmax_cross_entropy", &[logits.shape(), labels.shape()]);
    }
    let mut out = Array1::zeros(logits.nrows());
    softmax_cross_entropy_into(logits, labels, out.view_mut());
    out
}

/// Mean over the batch of [`softmax_cross_entropy`]:
/// `out = (1/n)·Σ_i softmax_cross_entropy(logits, labels)[i]`.
///
/// # Panics
/// As [`softmax_cross_entropy`].
///
/// ```
/// use graph_runtime::kernels::loss::softmax_cross_entropy_mean;
/// use ndarray::array;
///
/// let logits = array![[0.0_f32, 0.0], [0.0, 0.0]];
/// let labels = array![[1.0_f32, 0.0], [0.5, 0.5]];
/// assert_eq!(softmax_cross_entropy_mean(logits.view(), labels.view()), 2.0_f32.ln());
/// ```
#[track_caller]
#[must_use]
pub fn softmax_cross_entropy_mean(logits: ArrayView2<'_, f32>, labels: ArrayView2<'_, f32>) -> f32 {
    if logits.shape() != labels.shape() {
        shape_panic("softmax_cross_entropy", &[logits.shape(), labels.shape()]);
    }
    let mut total = 0.0_f64;
    Zip::from(logits.rows())
        .and(labels.rows())
        .for_each(|row, weights| total += f64::from(row_cross_entropy(row, weights)));
    narrow(total / logits.nrows() as f64)
}

/// Softmax cross-entropy against class indices, per example:
/// `out[i] = logsumexp(logits[i]) − logits[i, labels[i]]`.
///
/// `name` is the graph's name for `labels`, used in the error.
///
/// # Errors
/// [`Error::IndexOutOfRange`] naming `name`, the first label `≥ c` (the number
/// of classes), its position and `c`.
///
/// # Panics
/// If `labels` does not have one entry per row of `logits`.
///
/// ```
/// use graph_runtime::kernels::loss::softmax_cross_entropy_indices;
/// use graph_runtime::Error;
/// use ndarray::array;
///
/// let logits = array![[0.0_f32, 0.0], [-1e4, 0.0]];
/// let loss = softmax_cross_entropy_indices(logits.view(), array![0, 0].view(), "y").unwrap();
/// assert_eq!(loss, array![2.0_f32.ln(), 1e4]);
///
/// let err = softmax_cross_entropy_indices(logits.view(), array![1, 2].view(), "y");
/// assert_eq!(
///     err.unwrap_err().to_string(),
///     "tensor `y` holds index 2 at position [1], but its indices must be less than 2"
/// );
/// ```
#[track_caller]
pub fn softmax_cross_entropy_indices(
    logits: ArrayView2<'_, f32>,
    labels: ArrayView1<'_, usize>,
    name: &'static str,
) -> Result<Array1<f32>, Error> {
    check_labels(logits, labels, name)?;
    let mut out = Array1::zeros(logits.nrows());
    Zip::from(&mut out)
        .and(logits.rows())
        .and(&labels)
        .for_each(|o, row, &label| *o = row_cross_entropy_index(row, label));
    Ok(out)
}

/// Mean over the batch of [`softmax_cross_entropy_indices`].
///
/// # Errors
/// As [`softmax_cross_entropy_indices`].
///
/// # Panics
/// As [`softmax_cross_entropy_indices`].
///
/// ```
/// use graph_runtime::kernels::loss::softmax_cross_entropy_indices_mean;
/// use ndarray::array;
///
/// let logits = array![[0.0_f32, 0.0, 0.0, 0.0]];
/// let loss = softmax_cross_entropy_indices_mean(logits.view(), array![3].view(), "y");
/// assert_eq!(loss, Ok(4.0_f32.ln()));
/// ```
#[track_caller]
pub fn softmax_cross_entropy_indices_mean(
    logits: ArrayView2<'_, f32>,
    labels: ArrayView1<'_, usize>,
    name: &'static str,
) -> Result<f32, Error> {
    check_labels(logits, labels, name)?;
    let mut total = 0.0_f64;
    Zip::from(logits.rows())
        .and(&labels)
        .for_each(|row, &label| total += f64::from(row_cross_entropy_index(row, label)));
    Ok(narrow(total / logits.nrows() as f64))
}

/// Sigmoid cross-entropy against probability labels, elementwise:
/// `out = −z·ln σ(x) − (1 − z)·ln(1 − σ(x))` for logits `x` and labels `z`,
/// evaluated as `max(x, 0) − x·z + ln(1 + e^(−|x|))` so it neither overflows
/// nor takes the log of 0 (TensorFlow's `sigmoid_cross_entropy_with_logits`).
///
/// # Panics
/// If the shapes differ.
///
/// ```
/// use graph_runtime::kernels::loss::sigmoid_cross_entropy;
/// use ndarray::array;
///
/// let loss = sigmoid_cross_entropy(array![0.0_f32, -1e4].view(), array![1.0_f32, 1.0].view());
/// assert_eq!(loss, array![2.0_f32.ln(), 1e4]);
/// ```
#[track_caller]
#[must_use]
pub fn sigmoid_cross_entropy<D: Dimension>(
    logits: ArrayView<'_, f32, D>,
    labels: ArrayView<'_, f32, D>,
) -> Array<f32, D> {
    let mut out = Array::zeros(logits.raw_dim());
    sigmoid_cross_entropy_into(logits, labels, out.view_mut());
    out
}

/// Cross-entropy of one row of logits against one row of label weights.
fn row_cross_entropy(row: ArrayView1<'_, f32>, weights: ArrayView1<'_, f32>) -> f32 {
    let (m, log_total) = lane_shift(row);
    let mut loss = 0.0_f64;
    for (&x, &w) in row.iter().zip(weights) {
        if w != 0.0 {
            loss += f64::from(w) * (f64::from(m) - f64::from(x) + log_total);
        }
    }
    narrow(loss)
}

/// Cross-entropy of one row of logits against a class index (in range).
fn row_cross_entropy_index(row: ArrayView1<'_, f32>, label: usize) -> f32 {
    let (m, log_total) = lane_shift(row);
    narrow(f64::from(m) - f64::from(row[label]) + log_total)
}

/// Panics unless there is one label per row; reports the first label out
/// of range.
#[track_caller]
fn check_labels(
    logits: ArrayView2<'_, f32>,
    labels: ArrayView1<'_, usize>,
    name: &'static str,
) -> Result<(), Error> {
    if labels.len() != logits.nrows() {
        shape_panic(
            "softmax_cross_entropy_indices",
            &[logits.shape(), labels.shape()],
        );
    }
    let classes = logits.ncols();
    match labels
        .iter()
        .enumerate()
        .find(|&(_, &index)| index >= classes)
    {
        Some((row, &index)) => Err(Error::IndexOutOfRange {
            tensor: name,
            index,
            position: vec![row],
            bound: classes,
        }),
        None => Ok(()),
    }
}

/// [`softmax_cross_entropy`] into caller storage (one loss per row).
///
/// # Panics
/// If the shapes of `logits` and `labels` differ, or `out` does not have
/// one entry per row.
///
/// ```
/// use graph_runtime::kernels::loss::softmax_cross_entropy_into;
/// use ndarray::{array, Array1};
///
/// let logits = array![[0.0_f32, 0.0], [1e4, 0.0]];
/// let labels = array![[1.0_f32, 0.0], [0.0, 1.0]];
/// let mut out = Array1::zeros(2);
/// softmax_cross_entropy_into(logits.view(), labels.view(), out.view_mut());
/// assert_eq!(out, array![2.0_f32.ln(), 1e4]);
/// ```
#[track_caller]
pub fn softmax_cross_entropy_into(
    logits: ArrayView2<'_, f32>,
    labels: ArrayView2<'_, f32>,
    mut out: ArrayViewMut1<'_, f32>,
) {
    if logits.shape() != labels.shape() || out.len() != logits.nrows() {
        shape_panic(
            "softmax_cross_entropy",
            &[logits.shape(), labels.shape(), out.shape()],
        );
    }
    Zip::from(&mut out)
        .and(logits.rows())
        .and(labels.rows())
        .for_each(|o, row, weights| *o = row_cross_entropy(row, weights));
}

/// [`softmax_cross_entropy_indices`] into caller storage (one loss per
/// row).
///
/// # Errors
/// As [`softmax_cross_entropy_indices`]; `out` is left unchanged.
///
/// # Panics
/// As [`softmax_cross_entropy_indices`], and if `out` does not have one
/// entry per row.
///
/// ```
/// use graph_runtime::kernels::loss::softmax_cross_entropy_indices_into;
/// use ndarray::{array, Array1};
///
/// let logits = array![[0.0_f32, 0.0], [-1e4, 0.0]];
/// let mut out = Array1::zeros(2);
/// softmax_cross_entropy_indices_into(logits.view(), array![0, 0].view(), "y", out.view_mut()).unwrap();
/// assert_eq!(out, array![2.0_f32.ln(), 1e4]);
/// ```
#[track_caller]
pub fn softmax_cross_entropy_indices_into(
    logits: ArrayView2<'_, f32>,
    labels: ArrayView1<'_, usize>,
    name: &'static str,
    mut out: ArrayViewMut1<'_, f32>,
) -> Result<(), Error> {
    if out.len() != logits.nrows() {
        shape_panic(
            "softmax_cross_entropy_indices",
            &[logits.shape(), labels.shape(), out.shape()],
        );
    }
    check_labels(logits, labels, name)?;
    Zip::from(&mut out)
        .and(logits.rows())
        .and(&labels)
        .for_each(|o, row, &label| *o = row_cross_entropy_index(row, label));
    Ok(())
}

/// [`sigmoid_cross_entropy`] into caller storage of the operands' shape.
///
/// # Panics
/// If the shapes of `logits`, `labels` and `out` differ.
///
/// ```
/// use graph_runtime::kernels::loss::sigmoid_cross_entropy_into;
/// use ndarray::{array, Array1};
///
/// let mut out = Array1::zeros(2);
/// sigmoid_cross_entropy_into(array![0.0_f32, -1e4].view(), array![1.0_f32, 1.0].view(), out.view_mut());
/// assert_eq!(out, array![2.0_f32.ln(), 1e4]);
/// ```
#[track_caller]
pub fn sigmoid_cross_entropy_into<D: Dimension>(
    logits: ArrayView<'_, f32, D>,
    labels: ArrayView<'_, f32, D>,
    mut out: ArrayViewMut<'_, f32, D>,
) {
    if logits.shape() != labels.shape() || logits.shape() != out.shape() {
        shape_panic(
            "sigmoid_cross_entropy",
            &[logits.shape(), labels.shape(), out.shape()],
        );
    }
    Zip::from(&mut out)
        .and(&logits)
        .and(&labels)
        .for_each(|o, &x, &z| {
            let positive = if x > 0.0 { x } else { 0.0 };
            *o = positive - x * z + (-x.abs()).exp().ln_1p();
        });
}

#[allow(clippy::cast_possible_truncation)] // Rounding the f64 accumulator is the point.
fn narrow(x: f64) -> f32 {
    x as f32
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // Expected values are exact by construction.
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    #[test]
    fn first_bad_label_is_reported() {
        let logits = Array2::<f32>::zeros((4, 3));
        let err = softmax_cross_entropy_indices(logits.view(), array![0, 7, 2, 9].view(), "labels");
        assert_eq!(
            err,
            Err(Error::IndexOutOfRange {
                tensor: "labels",
                index: 7,
                position: vec![1],
                bound: 3
            })
        );
        let mean =
            softmax_cross_entropy_indices_mean(logits.view(), array![3, 0, 0, 0].view(), "t");
        assert!(matches!(
            mean,
            Err(Error::IndexOutOfRange {
                index: 3,
                bound: 3,
                ..
            })
        ));
    }

    #[test]
    fn no_classes_means_every_label_is_bad() {
        let logits = Array2::<f32>::zeros((1, 0));
        assert!(softmax_cross_entropy_indices(logits.view(), array![0].view(), "y").is_err());
    }

    #[test]
    fn empty_batches() {
        let logits = Array2::<f32>::zeros((0, 3));
        let labels = Array2::<f32>::zeros((0, 3));
        assert_eq!(softmax_cross_entropy(logits.view(), labels.view()).len(), 0);
        assert!(softmax_cross_entropy_mean(logits.view(), labels.view()).is_nan());
        let none = ndarray::Array1::<usize>::zeros(0);
        assert_eq!(
            softmax_cross_entropy_indices(logits.view(), none.view(), "y").map(|l| l.len()),
            Ok(0)
        );
        assert!(mse(
            ndarray::Array1::<f32>::zeros(0).view(),
            ndarray::Array1::<f32>::zeros(0).view()
        )
        .is_nan());
    }

    #[test]
    fn nan_logits_propagate() {
        let logits = array![[f32::NAN, 0.0]];
        let loss = softmax_cross_entropy(logits.view(), array![[0.0_f32, 1.0]].view());
        assert!(loss[0].is_nan());
        let by_index = softmax_cross_entropy_indices(logits.view(), array![1].view(), "y").unwrap();
        assert!(by_index[0].is_nan());
    }

    #[test]
    fn zero_label_ignores_minus_infinity_logit() {
        let logits = array![[f32::NEG_INFINITY, 0.0]];
        let loss = softmax_cross_entropy(logits.view(), array![[0.0_f32, 1.0]].view());
        assert_eq!(loss, array![0.0]);
    }

    #[test]
    #[should_panic(
        expected = "kernel `mse` called with operands of incompatible shapes [[2], [3]]"
    )]
    fn mse_shape_mismatch_panics() {
        let _ = mse(
            array![1.0_f32, 2.0].view(),
            array![1.0_f32, 2.0, 3.0].view(),
        );
    }
}
