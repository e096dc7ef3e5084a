//! Reductions and the softmax family on row-major slices.
//!
//! A kernel along one axis sees its operand as `(outer, len, inner)`: the
//! product of the axes before, the axis's length, and the product of the
//! axes after. Lane `(o, i)` is the elements `x[(o·len + a)·inner + i]` for
//! `a` in `0..len`. Sums accumulate in `f64`; NaN propagates as in the
//! ndarray kernels (a NaN in a lane makes its maximum, softmax and
//! log-sum-exp NaN; [`argmax`] returns the first NaN).

use crate::scalar::{self, maximum, minimum};

/// What [`reduce`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// The sum (`0` over nothing).
    Sum,
    /// The mean (NaN over nothing).
    Mean,
    /// The maximum (`-inf` over nothing); NaN wins.
    Max,
    /// The minimum (`+inf` over nothing); NaN wins.
    Min,
}

/// Reduces `x`, of shape `shape`, into `out`: input element at multi-index
/// `(i₀, i₁, …)` goes to output offset `Σ iₐ·out_strides[a]`, where reduced
/// axes have stride 0. Reduces any set of axes in one pass.
///
/// ```
/// use graph_runtime::flat::{reduce, Reduce};
///
/// // Column sums of [[1, 2], [3, 4]]: axis 0 reduced.
/// let mut out = [0.0_f32; 2];
/// reduce(&[1.0, 2.0, 3.0, 4.0], &[2, 2], &[0, 1], Reduce::Sum, &mut out);
/// assert_eq!(out, [4.0, 6.0]);
/// ```
pub fn reduce(x: &[f32], shape: &[usize], out_strides: &[usize], kind: Reduce, out: &mut [f32]) {
    let total: usize = shape.iter().product();
    match kind {
        Reduce::Sum | Reduce::Mean => {
            let count = if out.is_empty() { 0 } else { total / out.len() };
            accumulate(x, shape, out_strides, out, |acc, values| {
                let sum: f64 = values.map(f64::from).sum();
                *acc = narrow(sum);
            });
            if kind == Reduce::Mean {
                #[allow(clippy::cast_precision_loss)]
                let n = count as f32;
                for o in out.iter_mut() {
                    *o /= n;
                }
            }
        }
        Reduce::Max => accumulate(x, shape, out_strides, out, |acc, values| {
            *acc = values.fold(f32::NEG_INFINITY, maximum);
        }),
        Reduce::Min => accumulate(x, shape, out_strides, out, |acc, values| {
            *acc = values.fold(f32::INFINITY, minimum);
        }),
    }
}

/// For every output element, hands `combine` an iterator over the input
/// elements that reduce into it.
fn accumulate(
    x: &[f32],
    shape: &[usize],
    out_strides: &[usize],
    out: &mut [f32],
    combine: impl Fn(&mut f32, &mut dyn Iterator<Item = f32>),
) {
    let rank = shape.len();
    assert!(
        rank <= super::MAX_RANK,
        "flat kernels take at most {} axes",
        super::MAX_RANK
    );
    // The reduced axes, and the kept axes' input strides.
    let mut input_strides = [0usize; super::MAX_RANK];
    let mut stride = 1;
    for axis in (0..rank).rev() {
        input_strides[axis] = stride;
        stride *= shape[axis];
    }
    let reduced_count: usize = (0..rank)
        .filter(|&a| out_strides[a] == 0)
        .map(|a| shape[a])
        .product();
    // Output element `o` gathers the inputs whose kept coordinates equal
    // its own. Walk the output's multi-index over the kept axes, and for
    // each, the reduced axes' multi-index.
    let mut kept = [0usize; super::MAX_RANK];
    for (o, slot) in out.iter_mut().enumerate() {
        // Decode `o` into kept coordinates (row-major over kept axes).
        let mut rest = o;
        for axis in (0..rank).rev() {
            if out_strides[axis] != 0 {
                kept[axis] = rest % shape[axis];
                rest /= shape[axis];
            }
        }
        let base: usize = (0..rank)
            .filter(|&a| out_strides[a] != 0)
            .map(|a| kept[a] * input_strides[a])
            .sum();
        let mut values = (0..reduced_count).map(|r| {
            let mut rest = r;
            let mut offset = base;
            for axis in (0..rank).rev() {
                if out_strides[axis] == 0 {
                    offset += (rest % shape[axis]) * input_strides[axis];
                    rest /= shape[axis];
                }
            }
            x[offset]
        });
        combine(slot, &mut values);
    }
}

/// The index of the largest element of each lane along an axis, the lanes
/// being `(outer, len, inner)` (see the module docs); `out` has
/// `outer × inner` elements. Ties go to the first index; a NaN counts as
/// larger than everything (the first NaN wins), as in numpy. An empty lane
/// gives 0.
///
/// ```
/// let mut out = [0usize; 2];
/// graph_runtime::flat::argmax(&[1.0, 9.0, 9.0, 4.0, 0.0, 2.0], (2, 3, 1), &mut out);
/// assert_eq!(out, [1, 0]);
/// ```
pub fn argmax(x: &[f32], (outer, len, inner): (usize, usize, usize), out: &mut [usize]) {
    for o in 0..outer {
        for i in 0..inner {
            let lane = |a: usize| x[(o * len + a) * inner + i];
            let mut best = 0;
            for a in 1..len {
                let (candidate, current) = (lane(a), lane(best));
                if current.is_nan() {
                    break;
                }
                if candidate.is_nan() || candidate > current {
                    best = a;
                }
            }
            out[o * inner + i] = best;
        }
    }
}

/// Softmax along an axis: `out = e^(x − m) / Σ e^(x − m)` per lane, with
/// `m` the lane's maximum; `out` has `x`'s shape.
///
/// ```
/// let mut out = [0.0_f32; 2];
/// graph_runtime::flat::softmax(&[0.0, 0.0], (1, 2, 1), &mut out);
/// assert_eq!(out, [0.5, 0.5]);
/// ```
pub fn softmax(x: &[f32], lanes: (usize, usize, usize), out: &mut [f32]) {
    for_each_lane(lanes, |at| {
        let m = lane_max(x, lanes.1, &at);
        let mut total = 0.0_f64;
        for a in 0..lanes.1 {
            let e = scalar::exp(x[at(a)] - m);
            out[at(a)] = e;
            total += f64::from(e);
        }
        let total = narrow(total);
        for a in 0..lanes.1 {
            out[at(a)] /= total;
        }
    });
}

/// Log-softmax along an axis: `out = (x − m) − ln Σ e^(x − m)` per lane.
pub fn log_softmax(x: &[f32], lanes: (usize, usize, usize), out: &mut [f32]) {
    for_each_lane(lanes, |at| {
        let m = lane_max(x, lanes.1, &at);
        let log_total = narrow(scalar::ln_f64(shifted_sum(x, lanes.1, &at, m)));
        for a in 0..lanes.1 {
            out[at(a)] = (x[at(a)] - m) - log_total;
        }
    });
}

/// `ln Σ e^x` along an axis, one value per lane (`outer × inner`); a lane
/// whose maximum is infinite gives that infinity.
pub fn logsumexp(x: &[f32], lanes: (usize, usize, usize), out: &mut [f32]) {
    let inner = lanes.2;
    let mut lane = 0;
    for_each_lane(lanes, |at| {
        let m = lane_max(x, lanes.1, &at);
        out[lane] = if m.is_infinite() {
            m
        } else {
            m + narrow(scalar::ln_f64(shifted_sum(x, lanes.1, &at, m)))
        };
        lane += 1;
    });
    debug_assert!(lane == lanes.0 * inner);
}

/// Softmax cross-entropy of each row of `logits` (`rows × classes`) against
/// the same-shaped `labels`: `out[i] = −Σ_j labels[i, j]·log_softmax(row
/// i)[j]`, summed in `f64`; a zero label contributes nothing, even where its
/// logit is `-inf` (as `kernels::loss::softmax_cross_entropy`).
///
/// ```
/// let mut out = [0.0_f32; 1];
/// graph_runtime::flat::softmax_cross_entropy(&[0.0, 0.0], &[1.0, 0.0], (1, 2), &mut out);
/// assert_eq!(out, [2.0_f32.ln()]);
/// ```
pub fn softmax_cross_entropy(
    logits: &[f32],
    labels: &[f32],
    (rows, classes): (usize, usize),
    out: &mut [f32],
) {
    for_each_lane((rows, classes, 1), |at| {
        let m = lane_max(logits, classes, &at);
        let log_total = scalar::ln_f64(shifted_sum(logits, classes, &at, m));
        let mut loss = 0.0_f64;
        for a in 0..classes {
            let weight = labels[at(a)];
            if weight != 0.0 {
                loss += f64::from(weight) * (f64::from(m) - f64::from(logits[at(a)]) + log_total);
            }
        }
        out[at(0) / classes.max(1)] = narrow(loss);
    });
}

/// Softmax cross-entropy of each row of `logits` (`rows × classes`) against
/// a class index: `out[i] = −log_softmax(row i)[labels[i]]`.
///
/// **A label that is not a class (`labels[i] ≥ classes`) gives NaN** for
/// its row: slice kernels cannot return errors, and `#[no_std]` graphs must
/// not panic on data; the NaN reaches any mean over the batch, so the
/// mistake shows in the loss. (The ndarray kernel
/// `kernels::loss::softmax_cross_entropy_indices` reports the label
/// instead.)
///
/// ```
/// let mut out = [0.0_f32; 2];
/// graph_runtime::flat::softmax_cross_entropy_indices(&[0.0, 0.0, 0.0, 0.0], &[1, 7], (2, 2), &mut out);
/// assert_eq!(out[0], 2.0_f32.ln());
/// assert!(out[1].is_nan());
/// ```
pub fn softmax_cross_entropy_indices(
    logits: &[f32],
    labels: &[usize],
    (rows, classes): (usize, usize),
    out: &mut [f32],
) {
    for (row, (&label, loss)) in labels.iter().zip(out.iter_mut()).take(rows).enumerate() {
        let at = |a: usize| row * classes + a;
        *loss = if label < classes {
            let m = lane_max(logits, classes, &at);
            let log_total = scalar::ln_f64(shifted_sum(logits, classes, &at, m));
            narrow(f64::from(m) - f64::from(logits[at(label)]) + log_total)
        } else {
            f32::NAN
        };
    }
}

/// Mean squared error `out[0] = Σ (pred − target)² / len`, summed in `f64`
/// (NaN when there are no elements, as `kernels::loss::mse`).
///
/// ```
/// let mut out = [0.0_f32];
/// graph_runtime::flat::mse(&[1.0, 2.0, 3.0, 4.0], &[1.0, 0.0, 3.0, 6.0], &mut out);
/// assert_eq!(out, [2.0]);
/// ```
pub fn mse(pred: &[f32], target: &[f32], out: &mut [f32]) {
    let total: f64 = pred
        .iter()
        .zip(target)
        .map(|(&p, &t)| {
            let d = f64::from(p) - f64::from(t);
            d * d
        })
        .sum();
    out[0] = narrow(total / pred.len() as f64);
}

/// Runs `f` on every lane, given as the function from a position along the
/// axis to the element's offset.
fn for_each_lane(
    (outer, len, inner): (usize, usize, usize),
    mut f: impl FnMut(&dyn Fn(usize) -> usize),
) {
    for o in 0..outer {
        for i in 0..inner {
            f(&|a: usize| (o * len + a) * inner + i);
        }
    }
}

fn lane_max(x: &[f32], len: usize, at: &dyn Fn(usize) -> usize) -> f32 {
    (0..len).fold(f32::NEG_INFINITY, |m, a| maximum(m, x[at(a)]))
}

fn shifted_sum(x: &[f32], len: usize, at: &dyn Fn(usize) -> usize, m: f32) -> f64 {
    (0..len).map(|a| f64::from(scalar::exp(x[at(a)] - m))).sum()
}

#[allow(clippy::cast_possible_truncation)] // Rounding the f64 accumulator is the point.
fn narrow(x: f64) -> f32 {
    x as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_by_hand() {
        // Row [ln 1, ln 3]: softmax [1/4, 3/4]. Against class 1: −ln(3/4);
        // against labels [0.5, 0.5]: −(ln(1/4) + ln(3/4))/2.
        let logits = [0.0_f32, 3.0_f32.ln(), 0.0, 3.0_f32.ln()];
        let mut by_index = [0.0_f32; 2];
        softmax_cross_entropy_indices(&logits, &[1, 0], (2, 2), &mut by_index);
        assert!(
            (by_index[0] - -(0.75_f32.ln())).abs() < 1e-6,
            "{by_index:?}"
        );
        assert!(
            (by_index[1] - -(0.25_f32.ln())).abs() < 1e-6,
            "{by_index:?}"
        );
        let mut weighted = [0.0_f32; 2];
        softmax_cross_entropy(&logits, &[0.5, 0.5, 0.0, 1.0], (2, 2), &mut weighted);
        let expected = -(0.25_f32.ln() + 0.75_f32.ln()) / 2.0;
        assert!((weighted[0] - expected).abs() < 1e-6, "{weighted:?}");
        assert!(
            (weighted[1] - -(0.75_f32.ln())).abs() < 1e-6,
            "{weighted:?}"
        );
    }

    #[test]
    fn cross_entropy_ignores_zero_labels_at_minus_infinity() {
        let mut out = [0.0_f32; 1];
        softmax_cross_entropy(&[0.0, f32::NEG_INFINITY], &[1.0, 0.0], (1, 2), &mut out);
        assert_eq!(out, [0.0]);
    }

    #[test]
    fn reduce_any_axes() {
        // [2, 3]: rows 1 2 3 / 4 5 6.
        let x = [1.0_f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut rows = [0.0_f32; 2];
        reduce(&x, &[2, 3], &[1, 0], Reduce::Mean, &mut rows);
        assert_eq!(rows, [2.0, 5.0]);
        let mut all = [0.0_f32; 1];
        reduce(&x, &[2, 3], &[0, 0], Reduce::Max, &mut all);
        assert_eq!(all, [6.0]);
        reduce(&x, &[2, 3], &[0, 0], Reduce::Min, &mut all);
        assert_eq!(all, [1.0]);
        // Axes 0 and 2 of a [2, 2, 2] tensor.
        let y: [f32; 8] = core::array::from_fn(|i| i as f32);
        let mut middle = [0.0_f32; 2];
        reduce(&y, &[2, 2, 2], &[0, 1, 0], Reduce::Sum, &mut middle);
        assert_eq!(middle, [0.0 + 1.0 + 4.0 + 5.0, 2.0 + 3.0 + 6.0 + 7.0]);
        // NaN wins the maximum; the empty mean is NaN.
        reduce(&[1.0, f32::NAN], &[2], &[0], Reduce::Max, &mut all);
        assert!(all[0].is_nan());
        reduce(&[], &[0], &[0], Reduce::Mean, &mut all);
        assert!(all[0].is_nan());
    }

    #[test]
    fn argmax_along_the_first_axis_and_with_nan() {
        // Columns of [[1, 5], [3, 2]]: lanes (1, 2, 2).
        let mut out = [9usize; 2];
        argmax(&[1.0, 5.0, 3.0, 2.0], (1, 2, 2), &mut out);
        assert_eq!(out, [1, 0]);
        argmax(&[1.0, f32::NAN, 7.0, f32::NAN], (1, 4, 1), &mut out[..1]);
        assert_eq!(out[0], 1);
    }

    #[test]
    fn softmax_family_matches_hand_values() {
        let x = [0.0_f32, 2.0_f32.ln()];
        let mut p = [0.0_f32; 2];
        softmax(&x, (1, 2, 1), &mut p);
        assert!((p[0] - 1.0 / 3.0).abs() < 1e-7 && (p[1] - 2.0 / 3.0).abs() < 1e-7);
        let mut lp = [0.0_f32; 2];
        log_softmax(&x, (1, 2, 1), &mut lp);
        assert!((lp[0] - (1.0_f32 / 3.0).ln()).abs() < 1e-6);
        let mut lse = [0.0_f32; 1];
        logsumexp(&x, (1, 2, 1), &mut lse);
        assert!((lse[0] - 3.0_f32.ln()).abs() < 1e-6);
        // Large logits stay finite.
        softmax(&[1e4, -1e4], (1, 2, 1), &mut p);
        assert_eq!(p, [1.0, 0.0]);
        logsumexp(&[f32::NEG_INFINITY, f32::NEG_INFINITY], (1, 2, 1), &mut lse);
        assert_eq!(lse[0], f32::NEG_INFINITY);
    }
}
