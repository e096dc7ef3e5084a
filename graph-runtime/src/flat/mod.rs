//! Kernels on plain slices: what `#[no_std]` graphs compile to.
//!
//! Every tensor is a row-major slice and every shape is given by the caller,
//! in code the macro generates from shapes it checked at compile time. The
//! kernels need neither `std` nor an allocator, keep no state, and write
//! into caller storage; scratch space, where a kernel needs any, is on the
//! stack and bounded by [`MAX_RANK`] (strided operands) or by a fixed block
//! (batch statistics: 64 features at a time, under 3 KiB).
//!
//! Values agree with the ndarray kernels of [`kernels`](crate::kernels) (when
//! the `std` feature is on) to rounding: the formulas are the same
//! ([`scalar`](crate::scalar)), sums may run in another order.
//!
//! ```
//! use graph_runtime::flat::{self, Index};
//!
//! // A [2, 3] matrix plus a [3] row, broadcast over the rows: the row's
//! // element for output index (i, j) is at offset 0·i + 1·j.
//! let x = [1.0_f32, 2.0, 3.0, 4.0, 5.0, 6.0];
//! let row = [10.0_f32, 20.0, 30.0];
//! let mut out = [0.0_f32; 6];
//! flat::map([(&x[..], Index::Same), (&row[..], Index::Strided(&[0, 1]))], &[2, 3], &mut out, |[a, b]| a + b);
//! assert_eq!(out, [11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
//! ```
//!
//! # Panics
//! Kernels trust their callers: a slice shorter than its shape says panics
//! on the out-of-bounds index (a bug in the caller, never a data error), and
//! shapes of more than [`MAX_RANK`] axes panic.

// The one `unsafe` block: bytes viewed as `f32`s (see the module).
#[allow(unsafe_code)]
mod baked;
mod conv;
mod lanes;
mod linalg;
mod norm;
#[cfg(test)]
mod reference_tests;

pub use baked::Baked;
pub use conv::{
    avg_pool2d, avg_pool2d_grad, conv2d, conv2d_filter_grad, conv2d_input_grad, conv_output_size,
    conv_padding, effective_kernel_size, max_pool2d, max_pool2d_grad, Conv2dDims, Padding,
    Pool2dDims,
};
#[cfg(feature = "std")]
pub(crate) use conv::{picks, Window};
pub use lanes::{
    argmax, log_softmax, logsumexp, mse, reduce, softmax, softmax_cross_entropy,
    softmax_cross_entropy_indices, Reduce,
};
pub use linalg::{dense, matmul, matmul_accumulate};
pub use norm::{
    batch_norm, batch_norm_train, batch_norm_train_grad, batch_norm_train_normalized, layer_norm,
    layer_norm_grad, layer_norm_normalized,
};
#[cfg(feature = "std")]
pub(crate) use norm::{block_of, layer_norm_grad_lane, layer_norm_normalized_lane, Moments, BLOCK};

/// The most axes a strided operand can have.
pub const MAX_RANK: usize = 8;

/// Where an operand's elements are, for each element of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index<'a> {
    /// The operand has the output's shape and is row-major: element `i` of
    /// the output reads element `i`.
    Same,
    /// One stride per output axis: the output element at multi-index
    /// `(i₀, i₁, …)` reads offset `Σ iₐ·strides[a]`. A stride of 0 repeats
    /// the operand along that axis (broadcasting); other strides express
    /// transposes and slices.
    Strided(&'a [usize]),
}

/// Calls `visit(i, offsets)` for every output element `i` of `shape`, in
/// row-major order, with each operand's offset for that element.
#[inline]
fn walk<const N: usize>(
    shape: &[usize],
    indices: [Index<'_>; N],
    mut visit: impl FnMut(usize, [usize; N]),
) {
    let total: usize = shape.iter().product();
    if total == 0 {
        return;
    }
    let rank = shape.len();
    assert!(
        rank <= MAX_RANK,
        "flat kernels take at most {MAX_RANK} axes"
    );
    let mut counter = [0usize; MAX_RANK];
    let mut offsets = [0usize; N];
    for i in 0..total {
        for (offset, index) in offsets.iter_mut().zip(&indices) {
            if *index == Index::Same {
                *offset = i;
            }
        }
        visit(i, offsets);
        // Advance the multi-index, carrying from the last axis.
        for axis in (0..rank).rev() {
            counter[axis] += 1;
            let wrapped = counter[axis] == shape[axis];
            for (offset, index) in offsets.iter_mut().zip(&indices) {
                if let Index::Strided(strides) = index {
                    if wrapped {
                        *offset -= strides[axis] * (shape[axis] - 1);
                    } else {
                        *offset += strides[axis];
                    }
                }
            }
            if !wrapped {
                break;
            }
            counter[axis] = 0;
        }
    }
}

/// [`map`] over the buffer of one of its operands: `target` (row-major, of
/// the output's shape) is both read and written, `f` taking its element
/// first and then the other operands' elements. No workspace slot and no
/// copy for a value that replaces one of its operands (`w = w − lr·g`).
///
/// ```
/// use graph_runtime::flat::{map_inplace, Index};
///
/// let mut w = [1.0_f32, 2.0, 3.0];
/// map_inplace(&mut w, [(&[10.0, 20.0, 30.0][..], Index::Same)], &[3], |w, [g]| w - 0.1 * g);
/// assert_eq!(w, [0.0, 0.0, 0.0]);
/// ```
pub fn map_inplace<const N: usize>(
    target: &mut [f32],
    operands: [(&[f32], Index<'_>); N],
    shape: &[usize],
    f: impl Fn(f32, [f32; N]) -> f32,
) {
    let len = target.len();
    if operands.iter().all(|(_, index)| *index == Index::Same) {
        let data = operands.map(|(x, _)| &x[..len]);
        for (i, t) in target.iter_mut().enumerate() {
            *t = f(*t, data.map(|x| x[i]));
        }
        return;
    }
    let indices = operands.map(|(_, index)| index);
    walk(shape, indices, |i, offsets| {
        let mut k = 0;
        let values = operands.map(|(x, _)| {
            let value = x[offsets[k]];
            k += 1;
            value
        });
        target[i] = f(target[i], values);
    });
}

/// `out[i] = f([a[ia], b[ib], …])` for every element `i` of `shape`: every
/// elementwise op, fused chains of them, broadcasting, transposes and
/// slices (the identity function with strided operands).
///
/// `out` holds the `shape`'s elements in row-major order. When every
/// operand is [`Index::Same`] this is a plain loop the compiler vectorises.
#[inline]
pub fn map<T: Copy, O, const N: usize>(
    operands: [(&[T], Index<'_>); N],
    shape: &[usize],
    out: &mut [O],
    f: impl Fn([T; N]) -> O,
) {
    let len = out.len();
    if operands.iter().all(|(_, index)| *index == Index::Same) {
        let data = operands.map(|(x, _)| &x[..len]);
        for (i, o) in out.iter_mut().enumerate() {
            *o = f(data.map(|x| x[i]));
        }
        return;
    }
    let indices = operands.map(|(_, index)| index);
    walk(shape, indices, |i, offsets| {
        let mut k = 0;
        let values = operands.map(|(x, _)| {
            let value = x[offsets[k]];
            k += 1;
            value
        });
        out[i] = f(values);
    });
}

/// `out[i] = if condition[i] { a[i] } else { b[i] }`, each operand with its
/// own [`Index`] into the output's `shape`.
pub fn select<T: Copy>(
    condition: (&[bool], Index<'_>),
    a: (&[T], Index<'_>),
    b: (&[T], Index<'_>),
    shape: &[usize],
    out: &mut [T],
) {
    walk(shape, [condition.1, a.1, b.1], |i, [c, x, y]| {
        out[i] = if condition.0[c] { a.0[x] } else { b.0[y] };
    });
}

/// Copies `x` into `out` (reshapes, added and removed unit axes: the data
/// does not move).
pub fn copy<T: Copy>(x: &[T], out: &mut [T]) {
    let len = out.len();
    out.copy_from_slice(&x[..len]);
}

/// Concatenation along one axis. Each part is `(data, length)` with its
/// length along the axis; all parts share the `outer` size (the product of
/// the axes before) and the `inner` size (the product of the axes after).
pub fn concat<T: Copy, const N: usize>(
    parts: [(&[T], usize); N],
    outer: usize,
    inner: usize,
    out: &mut [T],
) {
    let mut at = 0;
    for o in 0..outer {
        for (data, length) in parts {
            let chunk = length * inner;
            out[at..at + chunk].copy_from_slice(&data[o * chunk..(o + 1) * chunk]);
            at += chunk;
        }
    }
}

/// Constant padding, as `numpy.pad(x, paddings, constant_values=value)`:
/// `x` is row-major of `shape`, and `out` row-major of the padded shape,
/// axis `a` longer by `paddings[a][0]` elements of `value` before and
/// `paddings[a][1]` after. Every element of `out` is written.
///
/// # Panics
/// If `shape` has more than [`MAX_RANK`] axes (or, as every kernel here, a
/// slice is shorter than its shape says).
///
/// ```
/// use graph_runtime::flat;
///
/// let x = [1.0_f32, 2.0, 3.0, 4.0];
/// let mut out = [0.0_f32; 9];
/// flat::pad(&x, &[2, 2], &[[1, 0], [0, 1]], -1.0, &mut out);
/// assert_eq!(out, [-1.0, -1.0, -1.0, 1.0, 2.0, -1.0, 3.0, 4.0, -1.0]);
/// ```
pub fn pad(x: &[f32], shape: &[usize], paddings: &[[usize; 2]], value: f32, out: &mut [f32]) {
    out.fill(value);
    let rank = shape.len();
    let Some(last) = rank.checked_sub(1) else {
        // A scalar: nothing to pad.
        out[0] = x[0];
        return;
    };
    let total: usize = shape.iter().product();
    if total == 0 {
        return;
    }
    assert!(
        rank <= MAX_RANK,
        "flat kernels take at most {MAX_RANK} axes"
    );
    // The padded shape's strides.
    let mut strides = [0usize; MAX_RANK];
    let mut stride = 1;
    for axis in (0..rank).rev() {
        strides[axis] = stride;
        stride *= shape[axis] + paddings[axis][0] + paddings[axis][1];
    }
    // Each row of `x` along its last axis is one contiguous run of `out`;
    // `counter` walks the other axes in row-major order.
    let row = shape[last];
    let mut counter = [0usize; MAX_RANK];
    for chunk in x[..total].chunks_exact(row) {
        let start: usize = (0..rank)
            .map(|axis| (counter[axis] + paddings[axis][0]) * strides[axis])
            .sum();
        out[start..start + row].copy_from_slice(chunk);
        for axis in (0..last).rev() {
            counter[axis] += 1;
            if counter[axis] < shape[axis] {
                break;
            }
            counter[axis] = 0;
        }
    }
}

/// One-hot encoding: row `i` of `out` (`depth` elements) is all zeros but
/// for a 1 at `indices[i]`; `out` holds `indices.len() · depth` elements.
///
/// **An index `≥ depth` gives a row of zeros**, as TensorFlow's `one_hot`
/// does (no error, no panic). Every element of `out` is written.
///
/// ```
/// use graph_runtime::flat;
///
/// let mut out = [f32::NAN; 6];
/// flat::one_hot(&[1, 3], 3, &mut out);
/// assert_eq!(out, [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
/// ```
pub fn one_hot(indices: &[usize], depth: usize, out: &mut [f32]) {
    for (i, &index) in indices.iter().enumerate() {
        let row = &mut out[i * depth..(i + 1) * depth];
        row.fill(0.0);
        if let Some(hot) = row.get_mut(index) {
            *hot = 1.0;
        }
    }
}

/// Gathers rows of a table (embedding lookup): row `i` of `out` (`row_len`
/// elements) is row `indices[i]` of `table`, which holds
/// `table.len() / row_len` rows.
///
/// **An index past the table's last row gives a row of zeros**: slice
/// kernels cannot return errors, and `#[no_std]` graphs must not panic on
/// data. (The ndarray kernel `kernels::nn::gather` reports the index
/// instead.)
///
/// ```
/// use graph_runtime::flat;
///
/// let table = [0.0_f32, 0.5, 1.0, 1.5, 2.0, 2.5];
/// let mut out = [f32::NAN; 6];
/// flat::gather(&table, &[2, 0, 9], 2, &mut out);
/// assert_eq!(out, [2.0, 2.5, 0.0, 0.5, 0.0, 0.0]);
/// ```
pub fn gather(table: &[f32], indices: &[usize], row_len: usize, out: &mut [f32]) {
    let rows = table.len().checked_div(row_len).unwrap_or(0);
    for (i, &index) in indices.iter().enumerate() {
        let target = &mut out[i * row_len..(i + 1) * row_len];
        if index < rows {
            target.copy_from_slice(&table[index * row_len..(index + 1) * row_len]);
        } else {
            target.fill(0.0);
        }
    }
}

/// The backward pass of [`gather`] (a scatter-add): `out`, the gradient of
/// the table (`out.len() / row_len` rows), is zeroed, then row `i` of
/// `grad` is added into row `indices[i]` of `out`, so a row gathered
/// several times receives the sum of its gradients (added in f32, in the
/// order of `indices`).
///
/// **An index past the table's last row is skipped**: its gradient row
/// goes nowhere, as [`gather`] read zeros for it, which depend on no
/// table entry.
///
/// ```
/// use graph_runtime::flat;
///
/// let grad = [1.0_f32, 2.0, 3.0, 4.0, 5.0, 6.0];
/// let mut out = [f32::NAN; 6];
/// flat::gather_grad(&grad, &[2, 0, 2], 2, &mut out);
/// assert_eq!(out, [3.0, 4.0, 0.0, 0.0, 6.0, 8.0]);
/// ```
pub fn gather_grad(grad: &[f32], indices: &[usize], row_len: usize, out: &mut [f32]) {
    out.fill(0.0);
    let rows = out.len().checked_div(row_len).unwrap_or(0);
    for (i, &index) in indices.iter().enumerate() {
        if index < rows {
            let source = &grad[i * row_len..(i + 1) * row_len];
            let target = &mut out[index * row_len..(index + 1) * row_len];
            for (o, &g) in target.iter_mut().zip(source) {
                *o += g;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_broadcasts_transposes_and_slices() {
        // x: [2, 3]; column c: [2, 1]; scalar s.
        let x = [1.0_f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let c = [100.0_f32, 200.0];
        let s = [0.5_f32];
        let mut out = [0.0_f32; 6];
        map(
            [
                (&x[..], Index::Same),
                (&c[..], Index::Strided(&[1, 0])),
                (&s[..], Index::Strided(&[0, 0])),
            ],
            &[2, 3],
            &mut out,
            |[a, b, k]| (a + b) * k,
        );
        assert_eq!(out, [50.5, 51.0, 51.5, 102.0, 102.5, 103.0]);
        // The transpose of x, [3, 2]: element (i, j) is x[j, i], offset 1·i + 3·j.
        let mut t = [0.0_f32; 6];
        map(
            [(&x[..], Index::Strided(&[1, 3]))],
            &[3, 2],
            &mut t,
            |[v]| v,
        );
        assert_eq!(t, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        // Columns 1..3 of x: start at offset 1, strides (3, 1).
        let mut part = [0.0_f32; 4];
        map(
            [(&x[1..], Index::Strided(&[3, 1]))],
            &[2, 2],
            &mut part,
            |[v]| v,
        );
        assert_eq!(part, [2.0, 3.0, 5.0, 6.0]);
    }

    #[test]
    fn map_handles_rank_three_and_empty_shapes() {
        let x: [f32; 24] = core::array::from_fn(|i| i as f32);
        // Swap the first and last axes of a [2, 3, 4] tensor: [4, 3, 2].
        let mut out = [0.0_f32; 24];
        map(
            [(&x[..], Index::Strided(&[1, 4, 12]))],
            &[4, 3, 2],
            &mut out,
            |[v]| v,
        );
        for a in 0..4 {
            for b in 0..3 {
                for c in 0..2 {
                    assert_eq!(out[a * 6 + b * 2 + c], x[c * 12 + b * 4 + a]);
                }
            }
        }
        let mut none: [f32; 0] = [];
        map(
            [(&x[..], Index::Strided(&[1, 1]))],
            &[0, 3],
            &mut none,
            |[v]| v,
        );
    }

    #[test]
    fn comparisons_and_select() {
        let a = [1.0_f32, 5.0, 3.0];
        let b = [2.0_f32];
        let mut mask = [false; 3];
        map(
            [(&a[..], Index::Same), (&b[..], Index::Strided(&[0]))],
            &[3],
            &mut mask,
            |[x, y]| x > y,
        );
        assert_eq!(mask, [false, true, true]);
        let mut out = [0.0_f32; 3];
        select(
            (&mask[..], Index::Same),
            (&a[..], Index::Same),
            (&b[..], Index::Strided(&[0])),
            &[3],
            &mut out,
        );
        assert_eq!(out, [2.0, 5.0, 3.0]);
    }

    #[test]
    fn pad_places_every_row() {
        // [2, 2, 3] padded by [[1, 0], [0, 1], [2, 1]] to [3, 3, 6].
        let x = [
            1.0_f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0,
        ];
        let mut out = [f32::NAN; 54];
        pad(&x, &[2, 2, 3], &[[1, 0], [0, 1], [2, 1]], 0.0, &mut out);
        for (i, &v) in out.iter().enumerate() {
            let (a, b, c) = (i / 18, i / 6 % 3, i % 6);
            let inside = a >= 1 && b < 2 && (2..5).contains(&c);
            let expected = if inside {
                x[(a - 1) * 6 + b * 3 + (c - 2)]
            } else {
                0.0
            };
            assert_eq!(v, expected, "at {i}");
        }
        let mut scalar = [0.0];
        pad(&[5.0], &[], &[], 1.0, &mut scalar);
        assert_eq!(scalar, [5.0]);
        let mut around_empty = [0.0; 2];
        pad(&[], &[0, 1], &[[2, 0], [0, 0]], 3.0, &mut around_empty);
        assert_eq!(around_empty, [3.0, 3.0]);
    }

    #[test]
    fn concat_interleaves_parts_per_outer_index() {
        // [2, 1] ++ [2, 2] along axis 1.
        let a = [1, 2];
        let b = [10, 11, 20, 21];
        let mut out = [0; 6];
        concat([(&a[..], 1), (&b[..], 2)], 2, 1, &mut out);
        assert_eq!(out, [1, 10, 11, 2, 20, 21]);
    }
}
