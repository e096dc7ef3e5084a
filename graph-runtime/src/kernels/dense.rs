//! Dense (fully connected) layers with a fused epilogue:
//! `out = activation(x·w + bias)`.
//!
//! [`dense_into`] is the kernel behind every matrix product of the crate
//! ([`linalg`](super::linalg), [`batched`](super::batched),
//! [`conv`](super::conv)). It never allocates, and picks its strategy at run
//! time:
//!
//! - On x86-64 CPUs with AVX2 and FMA (detected once), register-tiled SIMD
//!   kernels: for `w` in row-major layout (unit column stride), tiles of up
//!   to 6 rows of `out` and 8–64 columns stay in registers while the rows of
//!   `w` stream past (a batch-1 product reads `w` exactly once); for `x` with
//!   contiguous rows and `w` with contiguous columns (a matrix-vector
//!   product, or `w` stored transposed), several dot products share each
//!   load. The bias and the activation are applied as each tile of `out` is
//!   finished, while it is still in registers or in L1.
//! - Otherwise the portable kernel ([`dense_into_portable`]): row-major `w`
//!   streamed in blocks of rows, four at a time, over blocks of up to four
//!   rows of `out` (plain slice loops that the compiler vectorises for the
//!   baseline target, SSE2 on x86-64); dot products for `w` stored
//!   transposed; and a strided loop for any other layout.
//!
//! Sums run in `f32` in an order that depends on the path (blocked, with
//! several accumulators), so paths agree to rounding, not bit for bit. Any
//! path gives the same result for the same operands on the same machine.
//!
//! With the `parallel` feature and [`crate::threads::set_threads`], a large
//! product is split into blocks of whole column strips of the tile kernel
//! (or, off the tile kernel, into blocks of rows) that several threads
//! compute; each element is computed as on one thread, so the result is
//! the same bit for bit.

use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, Zip};

use super::shape_panic;

pub use crate::scalar::Activation;

/// Dense layer into caller storage:
/// `out[i, j] = activation(Σ_k x[i, k] · w[k, j] + bias[j])` (no bias term
/// without a bias). Accepts operands of any layout; no heap allocation.
///
/// # Panics
/// If `x` is m × k, `w` must be k × n, `bias` (if any) n long and `out`
/// m × n.
///
/// ```
/// use graph_runtime::kernels::dense::{dense_into, Activation};
/// use ndarray::{array, Array2};
///
/// let x = array![[1.0_f32, 2.0]];
/// let w = array![[1.0_f32, -1.0, 0.5], [1.0, -1.0, 0.5]];
/// let b = array![0.0_f32, 1.0, -1.0];
/// let mut out = Array2::zeros((1, 3));
/// dense_into(x.view(), w.view(), Some(b.view()), Activation::Relu, out.view_mut());
/// assert_eq!(out, array![[3.0, 0.0, 0.5]]);
/// ```
#[track_caller]
pub fn dense_into(
    x: ArrayView2<'_, f32>,
    w: ArrayView2<'_, f32>,
    bias: Option<ArrayView1<'_, f32>>,
    activation: Activation,
    out: ArrayViewMut2<'_, f32>,
) {
    check("dense", &x, &w, bias.as_ref(), &out);
    product(x, w, bias, activation, out, false, Kernels::Simd);
}

/// Dense layer: `activation(x·w + bias)` as a new array; see [`dense_into`].
///
/// # Panics
/// If `x` is m × k, `w` must be k × n and `bias` (if any) n long.
///
/// ```
/// use graph_runtime::kernels::dense::{dense, Activation};
/// use ndarray::array;
///
/// let x = array![[1.0_f32, 2.0], [0.0, -1.0]];
/// let w = array![[2.0_f32], [1.0]];
/// let y = dense(x.view(), w.view(), Some(array![0.5_f32].view()), Activation::Identity);
/// assert_eq!(y, array![[4.5], [-0.5]]);
/// ```
#[track_caller]
#[must_use]
pub fn dense(
    x: ArrayView2<'_, f32>,
    w: ArrayView2<'_, f32>,
    bias: Option<ArrayView1<'_, f32>>,
    activation: Activation,
) -> Array2<f32> {
    let mut out = Array2::zeros((x.nrows(), w.ncols()));
    dense_into(x, w, bias, activation, out.view_mut());
    out
}

/// [`dense_into`] restricted to the portable kernels, whatever the CPU: for
/// tests and benchmarks that compare the paths.
///
/// # Panics
/// As [`dense_into`].
#[doc(hidden)]
#[track_caller]
pub fn dense_into_portable(
    x: ArrayView2<'_, f32>,
    w: ArrayView2<'_, f32>,
    bias: Option<ArrayView1<'_, f32>>,
    activation: Activation,
    out: ArrayViewMut2<'_, f32>,
) {
    check("dense", &x, &w, bias.as_ref(), &out);
    product(x, w, bias, activation, out, false, Kernels::Portable);
}

/// Whether [`dense_into`] can use its SIMD kernels on this CPU (x86-64 with
/// AVX2 and FMA): tests use it to know which paths they exercised.
#[doc(hidden)]
#[must_use]
pub fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        super::simd::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[track_caller]
pub(super) fn check(
    kernel: &str,
    x: &ArrayView2<'_, f32>,
    w: &ArrayView2<'_, f32>,
    bias: Option<&ArrayView1<'_, f32>>,
    out: &ArrayViewMut2<'_, f32>,
) {
    let fits = x.ncols() == w.nrows()
        && out.dim() == (x.nrows(), w.ncols())
        && bias.is_none_or(|b| b.len() == w.ncols());
    if !fits {
        let bias_shape = bias.map_or(&[][..], ArrayView1::shape);
        shape_panic(kernel, &[x.shape(), w.shape(), bias_shape, out.shape()]);
    }
}

/// Which kernels a product may use.
#[derive(Clone, Copy)]
pub(crate) enum Kernels<'a> {
    /// The portable kernels only.
    Portable,
    /// The SIMD kernels where the CPU has them.
    Simd,
    /// As `Simd`, with `w` also available in panels
    /// ([`PackedWeights`](super::packed::PackedWeights)), which the tile
    /// kernel reads instead of `w` for a product that does not accumulate.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Panels(&'a [f32]),
}

/// `out = activation(β·out + x·w + bias)` with `β = 1` if `accumulate`, else
/// 0, for operands whose shapes the caller has checked, with `kernels`.
#[allow(clippy::many_single_char_names)] // The matrix-product letters.
pub(crate) fn product(
    x: ArrayView2<'_, f32>,
    w: ArrayView2<'_, f32>,
    bias: Option<ArrayView1<'_, f32>>,
    activation: Activation,
    mut out: ArrayViewMut2<'_, f32>,
    accumulate: bool,
    kernels: Kernels<'_>,
) {
    let (m, k) = x.dim();
    let n = w.ncols();
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // No products: only the epilogue.
        finish_rows(out.view_mut(), bias.as_ref(), activation, accumulate);
        return;
    }
    #[cfg(feature = "parallel")]
    if crate::threads::threads_for(m, k, n) > 1 {
        if let Some(width) = column_block_width(&x, &w, bias.as_ref(), &out, accumulate, kernels) {
            split_columns(x, w, bias, activation, out, accumulate, kernels, width);
            return;
        }
        let parts = crate::threads::parts_for(m, k, n);
        if parts > 1 {
            split_rows(x, w, bias, activation, out, accumulate, kernels, parts);
            return;
        }
    }
    on_this_thread(x, w, bias, activation, out, accumulate, kernels);
}

/// The width of the column blocks [`split_columns`] would use for this
/// product, if it runs on the tile kernel and has at least two blocks.
///
/// The tile kernel sweeps `w` strip by strip (16 columns wide for more than
/// 4 rows of `x`, up to 64 for fewer), each strip over every row of `x`:
/// blocks of whole strips split the reading of `w` between the threads and
/// read `x` no more often than one thread would, and compute every element
/// exactly as one thread does. Blocks of one strip, claimed one at a time,
/// also let the caller take over the blocks of a helper that starts late
/// (waking a thread costs tens of microseconds on a virtual machine,
/// a third of a 64 × 784 × 128 product); row blocks would each read all of
/// `w` again.
#[cfg(feature = "parallel")]
fn column_block_width(
    x: &ArrayView2<'_, f32>,
    w: &ArrayView2<'_, f32>,
    bias: Option<&ArrayView1<'_, f32>>,
    out: &ArrayViewMut2<'_, f32>,
    accumulate: bool,
    kernels: Kernels<'_>,
) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        use super::simd::{dots_read, tiles_read};
        let n = w.ncols();
        let unit = |stride: isize| stride == 1;
        let from_panels = matches!(kernels, Kernels::Panels(_)) && !accumulate;
        let tiles = !matches!(kernels, Kernels::Portable)
            && simd_available()
            && n >= 8
            && (from_panels || tiles_read(w, x.nrows()))
            && unit(out.strides()[1])
            && bias.is_none_or(|b| unit(b.strides()[0]));
        if !tiles {
            return None;
        }
        let strip = if x.nrows() > 4 { 16 } else { 64 };
        let strips = n.div_ceil(strip);
        let width = strip * strips.div_ceil(crate::threads::MAX_PARTS);
        // A last block of fewer than 8 columns would take the dot kernel
        // where `w`'s columns are contiguous, and sum differently from the
        // tiles of the whole product: no split then.
        let last = n % width;
        let dots_tail = last != 0 && last < 8 && dots_read(w);
        (n > width && !dots_tail).then_some(width)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (x, w, bias, out, accumulate, kernels);
        None
    }
}

/// [`product`] with the columns of `w` (and `out`, and `bias`) split into
/// blocks of `width` (a multiple of the tile kernel's strips, see
/// [`column_block_width`]), computed in parallel by
/// [`threads::run_parts`](crate::threads::run_parts), one block per claim.
/// Each block of `out` waits behind its own lock
/// ([`threads::column_blocks`](crate::threads::column_blocks)).
#[cfg(feature = "parallel")]
#[allow(clippy::too_many_arguments)] // `product`'s operands, forwarded.
fn split_columns(
    x: ArrayView2<'_, f32>,
    w: ArrayView2<'_, f32>,
    bias: Option<ArrayView1<'_, f32>>,
    activation: Activation,
    out: ArrayViewMut2<'_, f32>,
    accumulate: bool,
    kernels: Kernels<'_>,
    width: usize,
) {
    let (k, n) = w.dim();
    let parts = n.div_ceil(width).min(crate::threads::MAX_PARTS);
    let blocks = crate::threads::column_blocks(out, width, parts);
    crate::threads::run_parts(parts, &|part| {
        let Some(out) = crate::threads::take_block(&blocks, part) else {
            return;
        };
        let j0 = part * width;
        let columns = ndarray::Slice::from(j0..j0 + out.ncols());
        let w = w.slice_axis(Axis(1), columns);
        let bias = bias.map(|mut b| {
            b.slice_axis_inplace(Axis(0), columns);
            b
        });
        let kernels = match kernels {
            // Panels of 16 columns, each `k` rows, one after the other:
            // the block's panels are a contiguous run (`j0` is a multiple
            // of 16, and the last block takes the padded last panel).
            Kernels::Panels(panels) => {
                let per_panel = k * 16;
                let end = (j0 + out.ncols()).div_ceil(16) * per_panel;
                panels
                    .get(j0 / 16 * per_panel..end)
                    .map_or(Kernels::Simd, Kernels::Panels)
            }
            other => other,
        };
        on_this_thread(x, w, bias, activation, out, accumulate, kernels);
    });
}

/// Rows of the SIMD kernel's tiles (for products of more than 4 rows).
#[cfg(feature = "parallel")]
const ROW_TILE: usize = 6;

/// [`product`] with its rows split into `parts` nearly equal blocks (at
/// most [`MAX_PARTS`](crate::threads::MAX_PARTS)), computed in parallel by
/// [`threads::run_parts`](crate::threads::run_parts). Every block but the
/// last starts and ends at a multiple of [`ROW_TILE`] rows, so that
/// splitting adds no partial tiles; [`crate::threads::parts_for`] leaves
/// every block at least 12 rows before that rounding, so at least 6 after
/// it (and the kernels compute each row the same way for any block of
/// more than 4 rows: results do not depend on the split).
///
/// Each block of `x` and `out` waits behind its own lock, taken once by the
/// thread that computes the block: the blocks are disjoint, and the locks
/// hand them out without `unsafe` and without allocating.
#[cfg(feature = "parallel")]
#[allow(clippy::too_many_arguments)] // `product`'s operands, forwarded.
fn split_rows(
    x: ArrayView2<'_, f32>,
    w: ArrayView2<'_, f32>,
    bias: Option<ArrayView1<'_, f32>>,
    activation: Activation,
    out: ArrayViewMut2<'_, f32>,
    accumulate: bool,
    kernels: Kernels<'_>,
    parts: usize,
) {
    use std::sync::Mutex;
    type Block<'x, 'o> = Mutex<Option<(ArrayView2<'x, f32>, ArrayViewMut2<'o, f32>)>>;

    let parts = parts.min(crate::threads::MAX_PARTS);
    let m = x.nrows();
    let mut blocks: [Block<'_, '_>; crate::threads::MAX_PARTS] =
        core::array::from_fn(|_| Mutex::new(None));
    let (mut x_rest, mut out_rest) = (x, out);
    let mut done = 0;
    for (part, block) in blocks.iter_mut().take(parts).enumerate() {
        let end = if part + 1 == parts {
            m
        } else {
            // The multiple of ROW_TILE nearest to an even split, so that
            // the blocks together run as many tiles as the whole would.
            (m * (part + 1) / parts + ROW_TILE / 2) / ROW_TILE * ROW_TILE
        };
        let rows = end - done;
        let (x_block, x_after) = x_rest.split_at(Axis(0), rows);
        let (out_block, out_after) = out_rest.split_at(Axis(0), rows);
        *block = Mutex::new(Some((x_block, out_block)));
        (x_rest, out_rest, done) = (x_after, out_after, done + rows);
    }
    crate::threads::run_parts(parts, &|part| {
        let taken = blocks[part].lock().ok().and_then(|mut block| block.take());
        if let Some((x, out)) = taken {
            on_this_thread(x, w, bias, activation, out, accumulate, kernels);
        }
    });
}

/// [`product`] on the calling thread, for `m, n, k ≥ 1`.
#[allow(clippy::many_single_char_names)] // The matrix-product letters.
fn on_this_thread(
    x: ArrayView2<'_, f32>,
    w: ArrayView2<'_, f32>,
    bias: Option<ArrayView1<'_, f32>>,
    activation: Activation,
    mut out: ArrayViewMut2<'_, f32>,
    accumulate: bool,
    kernels: Kernels<'_>,
) {
    let n = w.ncols();
    #[cfg(target_arch = "x86_64")]
    if !matches!(kernels, Kernels::Portable) {
        use super::simd::{gemm_dots, gemm_panels, gemm_tiles};
        let panels = match kernels {
            Kernels::Panels(panels) if !accumulate => Some(panels),
            _ => None,
        };
        // Few columns: dot products use all eight lanes where a tile would
        // mask most of them away.
        let done = panels
            .is_some_and(|panels| gemm_panels(&x, panels, n, bias.as_ref(), activation, &mut out))
            || (n < 8 && gemm_dots(&x, &w, bias.as_ref(), activation, &mut out, accumulate))
            || gemm_tiles(&x, &w, bias.as_ref(), activation, &mut out, accumulate)
            || gemm_dots(&x, &w, bias.as_ref(), activation, &mut out, accumulate);
        if done {
            return;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = kernels;
    portable(x, w, bias, activation, out, accumulate);
}

/// Inner steps per block of the portable row-major kernel: a block of `w`
/// is reused from cache by every row block of `x`.
const PORTABLE_KC: usize = 128;

fn contiguous(stride: isize, len: usize) -> bool {
    len <= 1 || stride == 1
}

#[allow(clippy::many_single_char_names)] // The matrix-product letters.
fn portable(
    x: ArrayView2<'_, f32>,
    w: ArrayView2<'_, f32>,
    bias: Option<ArrayView1<'_, f32>>,
    activation: Activation,
    mut out: ArrayViewMut2<'_, f32>,
    accumulate: bool,
) {
    let (m, k) = x.dim();
    let n = w.ncols();
    if contiguous(w.strides()[1], n) && contiguous(out.strides()[1], n) {
        // Start from the bias (and what `out` holds, if accumulating), add
        // the products block by block, then activate.
        start_rows(out.view_mut(), bias.as_ref(), accumulate);
        for k0 in (0..k).step_by(PORTABLE_KC) {
            let k1 = (k0 + PORTABLE_KC).min(k);
            let mut rows = out.rows_mut().into_iter();
            let mut i = 0;
            while i < m {
                let count = (m - i).min(4);
                match count {
                    4 => axpy_rows::<4>(&mut rows, &x, &w, i, k0..k1),
                    3 => axpy_rows::<3>(&mut rows, &x, &w, i, k0..k1),
                    2 => axpy_rows::<2>(&mut rows, &x, &w, i, k0..k1),
                    _ => axpy_rows::<1>(&mut rows, &x, &w, i, k0..k1),
                }
                i += count;
            }
        }
        if activation != Activation::Identity {
            out.mapv_inplace(|v| activation.apply(v));
        }
    } else if contiguous(x.strides()[1], k) && contiguous(w.strides()[0], k) {
        // `w` stored transposed: each result is one contiguous dot product
        // (ndarray's unrolled `dot` on slices).
        for (row, mut results) in x.rows().into_iter().zip(out.rows_mut()) {
            for (j, result) in results.iter_mut().enumerate() {
                let base = if accumulate { *result } else { 0.0 };
                let b = bias.as_ref().map_or(0.0, |b| b[j]);
                *result = activation.apply(base + row.dot(&w.column(j)) + b);
            }
        }
    } else {
        start_rows(out.view_mut(), bias.as_ref(), accumulate);
        for (row, mut results) in x.rows().into_iter().zip(out.rows_mut()) {
            for (&a, w_row) in row.iter().zip(w.rows()) {
                results.scaled_add(a, &w_row);
            }
        }
        if activation != Activation::Identity {
            out.mapv_inplace(|v| activation.apply(v));
        }
    }
}

/// Sets every row of `out` to `bias` (0 without one), or adds the bias to it
/// when accumulating.
fn start_rows(
    mut out: ArrayViewMut2<'_, f32>,
    bias: Option<&ArrayView1<'_, f32>>,
    accumulate: bool,
) {
    match (bias, accumulate) {
        (None, true) => {}
        (None, false) => out.fill(0.0),
        (Some(b), true) => Zip::from(out.rows_mut()).for_each(|mut row| row += b),
        (Some(b), false) => Zip::from(out.rows_mut()).for_each(|mut row| row.assign(b)),
    }
}

/// The epilogue alone, for an empty inner dimension.
fn finish_rows(
    mut out: ArrayViewMut2<'_, f32>,
    bias: Option<&ArrayView1<'_, f32>>,
    activation: Activation,
    accumulate: bool,
) {
    start_rows(out.view_mut(), bias, accumulate);
    out.mapv_inplace(|v| activation.apply(v));
}

/// Adds `x[i0 + r, p] · w[p, ·]` for `p` in `steps` to the next `R` rows of
/// `rows`, four rows of `w` per pass over each row of `out`.
fn axpy_rows<'a, const R: usize>(
    rows: &mut impl Iterator<Item = ArrayViewMut1<'a, f32>>,
    x: &ArrayView2<'_, f32>,
    w: &ArrayView2<'_, f32>,
    i0: usize,
    steps: core::ops::Range<usize>,
) {
    let mut outs: [&mut [f32]; R] = core::array::from_fn(|_| match rows.next() {
        Some(row) => match row.into_slice() {
            Some(slice) => slice,
            None => unreachable!("the caller checked that rows of `out` are contiguous"),
        },
        None => unreachable!("the caller asks for at most the rows left"),
    });
    let w_row = |p: usize| match w.index_axis(Axis(0), p).to_slice() {
        Some(slice) => slice,
        None => unreachable!("the caller checked that rows of `w` are contiguous"),
    };
    let mut p = steps.start;
    while p + 4 <= steps.end {
        let (w0, w1, w2, w3) = (w_row(p), w_row(p + 1), w_row(p + 2), w_row(p + 3));
        for (r, out) in outs.iter_mut().enumerate() {
            let i = i0 + r;
            let (a0, a1, a2, a3) = (x[[i, p]], x[[i, p + 1]], x[[i, p + 2]], x[[i, p + 3]]);
            for ((((o, &b0), &b1), &b2), &b3) in out.iter_mut().zip(w0).zip(w1).zip(w2).zip(w3) {
                *o += a0 * b0 + a1 * b1 + a2 * b2 + a3 * b3;
            }
        }
        p += 4;
    }
    while p < steps.end {
        let w0 = w_row(p);
        for (r, out) in outs.iter_mut().enumerate() {
            let a = x[[i0 + r, p]];
            for (o, &b) in out.iter_mut().zip(w0) {
                *o += a * b;
            }
        }
        p += 1;
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // Expected values are exact by construction.
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn empty_inner_dimension_gives_activated_bias() {
        let x = Array2::<f32>::zeros((2, 0));
        let w = Array2::<f32>::zeros((0, 3));
        let b = array![-1.0_f32, 0.0, 2.0];
        let y = dense(x.view(), w.view(), Some(b.view()), Activation::Relu);
        assert_eq!(y, array![[0.0, 0.0, 2.0], [0.0, 0.0, 2.0]]);
    }

    #[test]
    #[should_panic(expected = "kernel `dense` called with operands of incompatible shapes")]
    fn bias_length_mismatch_panics() {
        let _ = dense(
            Array2::<f32>::zeros((1, 2)).view(),
            Array2::<f32>::zeros((2, 3)).view(),
            Some(ndarray::Array1::zeros(2).view()),
            Activation::Identity,
        );
    }
}
