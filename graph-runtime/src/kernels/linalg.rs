//! Matrix products.
//!
//! One kernel per operand ranks, as numpy's `matmul` defines them for 1-D and
//! 2-D operands: a vector on the left acts as a row, on the right as a column,
//! and the added axis is removed from the result. The products run on
//! [`dense`](super::dense)'s kernels (SIMD where the CPU has AVX2 and FMA),
//! and their `_into` forms never allocate.

use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis};

use super::dense::{product, Activation, Kernels};
use super::shape_panic;

/// Matrix product into caller storage: `out[i, j] = Σ_k a[i, k] · b[k, j]`.
///
/// # Panics
/// If `a` is m × k, `b` must be k × n and `out` must be m × n.
///
/// ```
/// use graph_runtime::kernels::linalg::matmul_into;
/// use ndarray::{array, Array2};
///
/// let a = array![[1.0_f32, 2.0], [3.0, 4.0]];
/// let mut out = Array2::zeros((2, 2));
/// matmul_into(a.view(), a.t(), out.view_mut());
/// assert_eq!(out, array![[5.0, 11.0], [11.0, 25.0]]);
/// ```
#[track_caller]
pub fn matmul_into(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>, out: ArrayViewMut2<'_, f32>) {
    if a.ncols() != b.nrows() || out.dim() != (a.nrows(), b.ncols()) {
        shape_panic("matmul", &[a.shape(), b.shape(), out.shape()]);
    }
    product(a, b, None, Activation::Identity, out, false, Kernels::Simd);
}

/// `out = w + scale · a·b` for matrices, `a` read transposed with
/// `transpose_a`: [`matmul_accumulate_inplace`] into separate storage (a
/// copy of `w`, then the update). No heap allocation.
///
/// # Panics
/// If `a` (transposed when asked) is m × k, `b` must be k × n and `w` and
/// `out` m × n.
///
/// ```
/// use graph_runtime::kernels::linalg::matmul_accumulate_into;
/// use ndarray::{array, Array2};
///
/// let w = array![[1.0_f32, 0.0], [0.0, 1.0]];
/// let (h, delta) = (array![[2.0_f32, 4.0]], array![[1.0_f32, -1.0]]);
/// let mut out = Array2::zeros((2, 2));
/// matmul_accumulate_into(w.view(), h.view(), delta.view(), true, -0.5, out.view_mut());
/// assert_eq!(out, array![[0.0, 1.0], [-2.0, 3.0]]);
/// ```
#[track_caller]
pub fn matmul_accumulate_into(
    w: ArrayView2<'_, f32>,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    transpose_a: bool,
    scale: f32,
    mut out: ArrayViewMut2<'_, f32>,
) {
    if out.dim() != w.dim() {
        shape_panic(
            "matmul_accumulate",
            &[w.shape(), a.shape(), b.shape(), out.shape()],
        );
    }
    out.assign(&w);
    matmul_accumulate_inplace(out, a, b, transpose_a, scale);
}

/// `w += scale · a·b` in `w` itself, `a` read transposed with
/// `transpose_a`: an SGD step's update of a weight matrix by its gradient
/// (`w −= lr · hᵀ·δ` is `matmul_accumulate_inplace(w, h, δ, true, −lr)`),
/// which the optimizer fuses into one node so that no step stores the
/// gradient of a layer.
///
/// Where the CPU has AVX2 and FMA and the inner dimension (the batch) is
/// at most 256, the SIMD tile kernel adds each tile's `scale·g` into `w`
/// as it finishes the tile. Otherwise the product is made a block of at
/// most 64 columns at a time, into 16 KiB of stack scratch that stays in
/// L1, by the kernels of [`matmul_into`], and each block is added into `w`
/// at once. Either way the gradient costs no workspace and no second pass
/// over memory. Each element of `w`
/// gets `w + scale·g`, with `g` its entry of `a·b` as the product kernels
/// sum it, so the result is that of the product followed by the update
/// (`scale·g` is exact to negate: `w + (−lr)·g` is `w − lr·g`), to the
/// rounding of the sums, whose order depends on the kernel a block takes.
/// With the `parallel` feature, large updates split their columns over
/// the threads that [`crate::threads`] allows. No heap allocation.
///
/// # Panics
/// If `a` (transposed when asked) is m × k, `b` must be k × n and `w` m × n.
///
/// ```
/// use graph_runtime::kernels::linalg::matmul_accumulate_inplace;
/// use ndarray::array;
///
/// // w −= 0.5 · hᵀ·δ with hᵀ·δ = [[2, -2], [4, -4]].
/// let mut w = array![[1.0_f32, 0.0], [0.0, 1.0]];
/// let (h, delta) = (array![[2.0_f32, 4.0]], array![[1.0_f32, -1.0]]);
/// matmul_accumulate_inplace(w.view_mut(), h.view(), delta.view(), true, -0.5);
/// assert_eq!(w, array![[0.0, 1.0], [-2.0, 3.0]]);
/// ```
#[track_caller]
#[allow(clippy::many_single_char_names)] // The matrix-product letters.
pub fn matmul_accumulate_inplace(
    w: ArrayViewMut2<'_, f32>,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    transpose_a: bool,
    scale: f32,
) {
    let a = if transpose_a { a.reversed_axes() } else { a };
    if a.ncols() != b.nrows() || w.dim() != (a.nrows(), b.ncols()) {
        shape_panic("matmul_accumulate", &[w.shape(), a.shape(), b.shape()]);
    }
    #[cfg(feature = "parallel")]
    if crate::threads::threads_for(a.nrows(), a.ncols(), b.ncols()) > 1 && b.ncols() > STRIP {
        accumulate_split(w, a, b, scale);
        return;
    }
    accumulate_blocks(w, a, b, scale);
}

/// [`matmul_accumulate_inplace`] with `w`'s columns split into blocks of
/// whole 16-column strips (at most [`MAX_PARTS`](crate::threads::MAX_PARTS)
/// of them), claimed one at a time by the threads
/// [`threads::run_parts`](crate::threads::run_parts) offers: each thread
/// reads its share of `b` and adds into its own columns of `w`, every
/// element is computed as on one thread, and blocks as narrow as a strip let
/// the caller take over most of the work of a helper that wakes late.
#[cfg(feature = "parallel")]
fn accumulate_split(
    w: ArrayViewMut2<'_, f32>,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    scale: f32,
) {
    let n = w.ncols();
    let strips = n.div_ceil(STRIP);
    let width = STRIP * strips.div_ceil(crate::threads::MAX_PARTS);
    let parts = n.div_ceil(width);
    let targets = crate::threads::column_blocks(w, width, parts);
    crate::threads::run_parts(parts, &|part| {
        let Some(w) = crate::threads::take_block(&targets, part) else {
            return;
        };
        let (j0, cols) = (part * width, w.ncols());
        accumulate_blocks(w, a, b.slice(s![.., j0..j0 + cols]), scale);
    });
}

/// [`matmul_accumulate_inplace`] on the calling thread, for checked shapes.
#[allow(clippy::many_single_char_names)] // The matrix-product letters.
fn accumulate_blocks(
    mut w: ArrayViewMut2<'_, f32>,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    scale: f32,
) {
    if a.ncols() == 1 {
        add_outer(w, a.column(0), b.row(0), scale);
        return;
    }
    let (m, n) = w.dim();
    // The tile kernel adds each tile's update as it finishes, where the
    // product alone would run on it too (at least 8 columns: fewer take
    // the dot kernel) and is a single block of its inner dimension.
    #[cfg(target_arch = "x86_64")]
    if n >= 8 && super::simd::gemm_update(&a, &b, scale, &mut w) {
        return;
    }
    // Otherwise blocks of whole 16-column strips (all of `n` if narrower)
    // and whole 6-row tiles, as the SIMD kernel sweeps the whole product.
    let cols_per_block = n.min(ACCUMULATE_COLUMNS);
    let rows_per_block = (ACCUMULATE_SCRATCH / cols_per_block / 6 * 6).max(6);
    let mut scratch = [0.0_f32; ACCUMULATE_SCRATCH];
    for j0 in (0..n).step_by(cols_per_block) {
        let cols = cols_per_block.min(n - j0);
        let b_block = b.slice(s![.., j0..j0 + cols]);
        for i0 in (0..m).step_by(rows_per_block) {
            let rows = rows_per_block.min(m - i0);
            let gradient = &mut scratch[..rows * cols];
            let Ok(block) = ArrayViewMut2::from_shape((rows, cols), &mut *gradient) else {
                unreachable!("the scratch is cut to the block's size")
            };
            product(
                a.slice(s![i0..i0 + rows, ..]),
                b_block,
                None,
                Activation::Identity,
                block,
                false,
                Kernels::Simd,
            );
            add_scaled(
                w.slice_mut(s![i0..i0 + rows, j0..j0 + cols]),
                gradient,
                scale,
            );
        }
    }
}

/// `w[i, j] += scale · (column[i] · row[j])`: the update by an outer
/// product (a batch-1 step's weight gradient), each term made and added in
/// one pass over `w` rather than through scratch. The term is rounded once,
/// as the product kernels round a one-term sum (but for the sign of a zero
/// term).
fn add_outer(
    mut w: ArrayViewMut2<'_, f32>,
    column: ArrayView1<'_, f32>,
    row: ArrayView1<'_, f32>,
    scale: f32,
) {
    let body = || {
        for (mut target, &factor) in w.rows_mut().into_iter().zip(&column) {
            match (target.as_slice_mut(), row.as_slice()) {
                (Some(target), Some(row)) => {
                    for (v, &x) in target.iter_mut().zip(row) {
                        *v += scale * (factor * x);
                    }
                }
                _ => target.zip_mut_with(&row, |v, &x| *v += scale * (factor * x)),
            }
        }
    };
    // A plain loop over slices: eight lanes wide where the CPU has AVX2.
    super::vectorised(body);
}

/// `target += scale · gradient`, with `gradient` the rows of `target`'s
/// shape one after the other.
fn add_scaled(mut target: ArrayViewMut2<'_, f32>, gradient: &[f32], scale: f32) {
    let cols = target.ncols();
    let body = || {
        for (mut row, gradient) in target
            .rows_mut()
            .into_iter()
            .zip(gradient.chunks_exact(cols))
        {
            match row.as_slice_mut() {
                Some(row) => {
                    for (v, &g) in row.iter_mut().zip(gradient) {
                        *v += scale * g;
                    }
                }
                None => row
                    .iter_mut()
                    .zip(gradient)
                    .for_each(|(v, &g)| *v += scale * g),
            }
        }
    };
    // A plain loop over slices: eight lanes wide where the CPU has AVX2.
    super::vectorised(body);
}

/// Columns of one block of [`matmul_accumulate_inplace`]'s product at
/// most: four strips of the SIMD kernel's 6-row tiles, which sum each
/// element of a block as they do in the whole product.
const ACCUMULATE_COLUMNS: usize = 64;

/// Columns of the SIMD kernel's strips (for more than 4 rows): the
/// narrowest block of columns that threads share without changing a sum.
#[cfg(feature = "parallel")]
const STRIP: usize = 16;

/// Floats of stack scratch for one block of the product (16 KiB, so that
/// it stays in L1 between being written and being added into `w`).
const ACCUMULATE_SCRATCH: usize = 4096;

/// Matrix product: `out[i, j] = Σ_k a[i, k] · b[k, j]`.
///
/// # Panics
/// If `a` is m × k, `b` must be k × n.
///
/// ```
/// use graph_runtime::kernels::linalg::matmul;
/// use ndarray::array;
///
/// let a = array![[1.0_f32, 2.0], [3.0, 4.0]];
/// let b = array![[5.0_f32], [6.0]];
/// assert_eq!(matmul(a.view(), b.view()), array![[17.0], [39.0]]);
/// ```
#[track_caller]
#[must_use]
pub fn matmul(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Array2<f32> {
    if a.ncols() != b.nrows() {
        shape_panic("matmul", &[a.shape(), b.shape()]);
    }
    let mut out = Array2::zeros((a.nrows(), b.ncols()));
    matmul_into(a, b, out.view_mut());
    out
}

/// Matrix-vector product into caller storage: `out[i] = Σ_k a[i, k] · x[k]`.
///
/// # Panics
/// If `a` is m × k, `x` must have length k and `out` length m.
///
/// ```
/// use graph_runtime::kernels::linalg::matvec_into;
/// use ndarray::{array, Array1};
///
/// let a = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// let mut out = Array1::zeros(2);
/// matvec_into(a.view(), array![1.0_f32, 0.0, -1.0].view(), out.view_mut());
/// assert_eq!(out, array![-2.0, -2.0]);
/// ```
#[track_caller]
pub fn matvec_into(a: ArrayView2<'_, f32>, x: ArrayView1<'_, f32>, out: ArrayViewMut1<'_, f32>) {
    if a.ncols() != x.len() || out.len() != a.nrows() {
        shape_panic("matvec", &[a.shape(), x.shape(), out.shape()]);
    }
    // `x` as a k × 1 matrix: one dot product per row of `a`.
    let column = x.insert_axis(Axis(1));
    product(
        a,
        column,
        None,
        Activation::Identity,
        out.insert_axis(Axis(1)),
        false,
        Kernels::Simd,
    );
}

/// Matrix-vector product: `out[i] = Σ_k a[i, k] · x[k]`.
///
/// # Panics
/// If `a` is m × k, `x` must have length k.
///
/// ```
/// use graph_runtime::kernels::linalg::matvec;
/// use ndarray::array;
///
/// let a = array![[1.0_f32, 2.0], [3.0, 4.0]];
/// assert_eq!(matvec(a.view(), array![1.0_f32, -1.0].view()), array![-1.0, -1.0]);
/// ```
#[track_caller]
#[must_use]
pub fn matvec(a: ArrayView2<'_, f32>, x: ArrayView1<'_, f32>) -> Array1<f32> {
    if a.ncols() != x.len() {
        shape_panic("matvec", &[a.shape(), x.shape()]);
    }
    let mut out = Array1::zeros(a.nrows());
    matvec_into(a, x, out.view_mut());
    out
}

/// Vector-matrix product into caller storage: `out[j] = Σ_k x[k] · b[k, j]`
/// (the batch-1 dense layer).
///
/// # Panics
/// If `b` is k × n, `x` must have length k and `out` length n.
///
/// ```
/// use graph_runtime::kernels::linalg::vecmat_into;
/// use ndarray::{array, Array1};
///
/// let b = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// let mut out = Array1::zeros(3);
/// vecmat_into(array![2.0_f32, 3.0].view(), b.view(), out.view_mut());
/// assert_eq!(out, array![14.0, 19.0, 24.0]);
/// ```
#[track_caller]
pub fn vecmat_into(x: ArrayView1<'_, f32>, b: ArrayView2<'_, f32>, out: ArrayViewMut1<'_, f32>) {
    if x.len() != b.nrows() || out.len() != b.ncols() {
        shape_panic("vecmat", &[x.shape(), b.shape(), out.shape()]);
    }
    let row = x.insert_axis(Axis(0));
    product(
        row,
        b,
        None,
        Activation::Identity,
        out.insert_axis(Axis(0)),
        false,
        Kernels::Simd,
    );
}

/// Vector-matrix product: `out[j] = Σ_k x[k] · b[k, j]`.
///
/// # Panics
/// If `b` is k × n, `x` must have length k.
///
/// ```
/// use graph_runtime::kernels::linalg::vecmat;
/// use ndarray::array;
///
/// let b = array![[1.0_f32, 2.0], [3.0, 4.0]];
/// assert_eq!(vecmat(array![1.0_f32, 1.0].view(), b.view()), array![4.0, 6.0]);
/// ```
#[track_caller]
#[must_use]
pub fn vecmat(x: ArrayView1<'_, f32>, b: ArrayView2<'_, f32>) -> Array1<f32> {
    if x.len() != b.nrows() {
        shape_panic("vecmat", &[x.shape(), b.shape()]);
    }
    let mut out = Array1::zeros(b.ncols());
    vecmat_into(x, b, out.view_mut());
    out
}

/// Inner product of two vectors: `out = Σ_k x[k] · y[k]` (no allocation).
///
/// # Panics
/// If the lengths differ.
///
/// ```
/// use graph_runtime::kernels::linalg::dot;
/// use ndarray::array;
///
/// assert_eq!(dot(array![1.0_f32, 2.0].view(), array![3.0_f32, 4.0].view()), 11.0);
/// ```
#[track_caller]
#[must_use]
pub fn dot(x: ArrayView1<'_, f32>, y: ArrayView1<'_, f32>) -> f32 {
    if x.len() != y.len() {
        shape_panic("dot", &[x.shape(), y.shape()]);
    }
    x.dot(&y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn all_rank_combinations_by_hand() {
        let a = array![[1.0_f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let x = array![1.0_f32, 0.0, -1.0];
        let y = array![2.0_f32, 3.0];
        assert_eq!(matvec(a.view(), x.view()), array![-2.0, -2.0]);
        assert_eq!(vecmat(y.view(), a.view()), array![14.0, 19.0, 24.0]);
        assert_eq!(dot(x.view(), x.view()), 2.0);
        assert_eq!(matmul(a.view(), a.t()), array![[14.0, 32.0], [32.0, 77.0]]);
    }

    /// Deterministic operands with entries in [−1, 1).
    fn filled(rows: usize, cols: usize, seed: usize) -> Array2<f32> {
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            ((i * 7919 + j * 104_729 + seed * 1_299_709) % 2000) as f32 / 1000.0 - 1.0
        })
    }

    /// `w + scale·a·b` in f64, and the bound on the f32 error: a few
    /// roundings of each term's magnitude.
    fn reference(
        w: &Array2<f32>,
        a: &Array2<f32>,
        b: &Array2<f32>,
        scale: f32,
    ) -> Array2<(f64, f64)> {
        Array2::from_shape_fn(w.dim(), |(i, j)| {
            let (mut sum, mut magnitude) = (0.0_f64, 0.0_f64);
            for p in 0..a.ncols() {
                let term = f64::from(a[[i, p]]) * f64::from(b[[p, j]]);
                sum += term;
                magnitude += term.abs();
            }
            let value = f64::from(w[[i, j]]) + f64::from(scale) * sum;
            let bound = 1e-6 * (f64::from(w[[i, j]]).abs() + (f64::from(scale) * magnitude).abs());
            (value, bound)
        })
    }

    #[test]
    fn accumulated_updates_match_a_float64_reference() {
        // (m, k, n): a batch-1 outer product, a layer crossing the row
        // blocks, tail columns (20 = 16 + 4), tiny operands, one column, a
        // whole block of the tile kernel's inner dimension, and a batch
        // longer than one (the product in scratch blocks, then the update).
        for (m, k, n) in [
            (784, 1, 128),
            (300, 64, 40),
            (5, 3, 20),
            (2, 2, 1),
            (256, 256, 256),
            (40, 300, 24),
        ] {
            let w = filled(m, n, 1);
            let h = filled(k, m, 2); // read transposed: a = hᵀ
            let delta = filled(k, n, 3);
            let want = reference(&w, &h.t().to_owned(), &delta, -0.01);
            let mut updated = w.clone();
            matmul_accumulate_inplace(updated.view_mut(), h.view(), delta.view(), true, -0.01);
            let mut copied = Array2::zeros((m, n));
            matmul_accumulate_into(
                w.view(),
                h.view(),
                delta.view(),
                true,
                -0.01,
                copied.view_mut(),
            );
            assert_eq!(updated, copied, "{m}×{k}×{n}: in place and into storage");
            for ((i, j), &(value, bound)) in want.indexed_iter() {
                let got = f64::from(updated[[i, j]]);
                assert!(
                    (got - value).abs() <= bound + 1e-7,
                    "{m}×{k}×{n} at [{i}, {j}]: {got} against {value}"
                );
            }
            // `a` not transposed gives the same update.
            let mut plain = w.clone();
            matmul_accumulate_inplace(plain.view_mut(), h.t(), delta.view(), false, -0.01);
            assert_eq!(plain, updated, "{m}×{k}×{n}: transpose_a");
        }
    }

    #[test]
    fn an_accumulated_update_is_the_product_then_the_update() {
        // Column blocks of whole 6-row tiles sum as the whole product does,
        // so fusing an SGD update changes nothing.
        // A batch of 32, and of 1 (an outer product, added in one pass).
        for batch in [32, 1] {
            let (w, h, delta) = (
                filled(64, 256, 4),
                filled(batch, 64, 5),
                filled(batch, 256, 6),
            );
            let gradient = matmul(h.t(), delta.view());
            let unfused = &w - &(gradient * 0.01);
            let mut fused = w.clone();
            matmul_accumulate_inplace(fused.view_mut(), h.view(), delta.view(), true, -0.01);
            assert_eq!(fused, unfused, "batch {batch}");
        }
    }

    #[test]
    #[should_panic(expected = "kernel `matmul_accumulate`")]
    fn accumulating_a_product_of_the_wrong_shape_panics() {
        let mut w = Array2::<f32>::zeros((3, 2));
        matmul_accumulate_inplace(
            w.view_mut(),
            filled(3, 4, 0).view(),
            filled(3, 2, 0).view(),
            false,
            1.0,
        );
    }

    #[test]
    fn empty_inner_dimension_gives_zeros() {
        let a = Array2::<f32>::zeros((2, 0));
        let b = Array2::<f32>::zeros((0, 3));
        assert_eq!(matmul(a.view(), b.view()), Array2::<f32>::zeros((2, 3)));
    }
}
