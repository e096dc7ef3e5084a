//! Weights packed once for the SIMD matrix kernel.
//!
//! [`PackedWeights`] is a copy of a weight matrix `w` (k × n) in `⌈n / 16⌉`
//! panels, each the `k` rows of 16 columns (two vectors) of `w`, one after
//! the other, every row one cache line; the last panel is padded with zeros.
//! The tile kernel reads it in place of `w`:
//!
//! - with one row of `x` (a batch of 1) the product streams every weight
//!   once, and a tile of 64 columns reads four panels in order instead of a
//!   quarter or a half of each row of a row-major `w`, which the hardware
//!   prefetcher follows worse;
//! - with several rows, each tile's strip of 16 columns is contiguous: in a
//!   row-major `w` whose rows lie a multiple of 512 bytes apart, the strip
//!   crowds a few L1 sets and is fetched again for every row tile;
//! - the padding lets the last, partial strip load whole vectors: masked
//!   loads are slow on some cores.
//!
//! Measured on the benchmark machine (AMD EPYC, 2 vCPUs; fastest of 3000
//! calls), `relu(x·w + b)` with `w` 784 × 128 took 9.3 µs row-major and
//! 6.9 µs from panels for one row of `x`, 388 µs and 342 µs for 64 rows.
//!
//! `graph!` keeps one beside each weight matrix a product applies to a
//! matrix (the copy costs as much memory again), repacks it whenever the
//! variable is replaced or edited, and calls [`dense_packed_into`].
//!
//! ```
//! use graph_runtime::kernels::dense::Activation;
//! use graph_runtime::kernels::packed::{dense_packed_into, PackedWeights};
//! use ndarray::{array, Array2};
//!
//! let w = array![[1.0_f32, -1.0], [2.0, 0.5]];
//! let packed = PackedWeights::new(w.view());
//! let x = array![[3.0_f32, 1.0]];
//! let mut out = Array2::zeros((1, 2));
//! dense_packed_into(x.view(), w.view(), &packed, None, Activation::Identity, out.view_mut());
//! assert_eq!(out, array![[5.0, -2.5]]);
//! ```

use core::ops::{Deref, DerefMut};

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2};

use super::dense::{check, product, Activation, Kernels};

/// Columns per panel.
#[cfg(target_arch = "x86_64")]
const PANEL: usize = super::simd::PANEL;
#[cfg(not(target_arch = "x86_64"))]
const PANEL: usize = 16;

/// Floats in a cache line: the panels start on a line boundary.
const LINE: usize = 16;

/// A copy of a `k × n` weight matrix in 16-column panels, for
/// [`dense_packed_into`]. Empty (and unused) on CPUs whose kernels do not
/// read it, so it costs no memory there.
#[derive(Default)]
pub struct PackedWeights {
    rows: usize,
    cols: usize,
    /// The panels, from the first 64-byte boundary of the storage on (up
    /// to `LINE - 1` floats of slack before it); zeros past column `cols`.
    storage: Vec<f32>,
}

impl PackedWeights {
    /// Packs `w`.
    #[must_use]
    pub fn new(w: ArrayView2<'_, f32>) -> Self {
        let mut packed = Self::default();
        packed.pack(w);
        packed
    }

    /// Packs `w` again, reusing the storage when `w` has the shape packed
    /// before (no allocation then).
    pub fn pack(&mut self, w: ArrayView2<'_, f32>) {
        if !super::dense::simd_available() {
            return;
        }
        let (rows, cols) = w.dim();
        let len = cols.div_ceil(PANEL) * rows * PANEL;
        self.rows = rows;
        self.cols = cols;
        self.storage.clear();
        self.storage.resize(len + LINE - 1, 0.0);
        let start = first_line(&self.storage);
        let panels = &mut self.storage[start..start + len];
        for (j, column) in w.columns().into_iter().enumerate() {
            let (panel, lane) = (j / PANEL, j % PANEL);
            for (i, &value) in column.iter().enumerate() {
                panels[(panel * rows + i) * PANEL + lane] = value;
            }
        }
    }

    /// The panels, if they hold a `rows × cols` matrix.
    fn panels(&self, rows: usize, cols: usize) -> Option<&[f32]> {
        if (self.rows, self.cols) != (rows, cols) || self.storage.is_empty() {
            return None;
        }
        let start = first_line(&self.storage);
        Some(&self.storage[start..start + cols.div_ceil(PANEL) * rows * PANEL])
    }
}

impl Clone for PackedWeights {
    /// A copy with its own storage, the panels moved to its first 64-byte
    /// boundary (which need not be at the same offset as in `self`).
    fn clone(&self) -> Self {
        let mut storage = vec![0.0; self.storage.len()];
        if let Some(panels) = self.panels(self.rows, self.cols) {
            let start = first_line(&storage);
            storage[start..start + panels.len()].copy_from_slice(panels);
        }
        Self {
            rows: self.rows,
            cols: self.cols,
            storage,
        }
    }
}

impl core::fmt::Debug for PackedWeights {
    /// The shape packed, not the floats: a copy of a variable printed
    /// beside it.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PackedWeights")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .finish_non_exhaustive()
    }
}

impl PartialEq for PackedWeights {
    /// Equal when they hold the same matrix, wherever their storage starts.
    fn eq(&self, other: &Self) -> bool {
        self.panels(self.rows, self.cols) == other.panels(self.rows, self.cols)
    }
}

/// Index of the first float of `storage` on a 64-byte boundary (0 if the
/// allocator's alignment does not allow one).
fn first_line(storage: &[f32]) -> usize {
    let offset = storage
        .as_ptr()
        .align_offset(LINE * core::mem::size_of::<f32>());
    if offset < LINE {
        offset
    } else {
        0
    }
}

/// Dense layer, as [`dense_into`](super::dense::dense_into), with `packed`
/// holding `w` packed: on a CPU with AVX2 and FMA the product reads the
/// panels (with the threads of [`crate::threads`] sharing its rows, as
/// `dense_into`'s do); elsewhere it reads `w`. `packed` must hold the
/// current value of `w` (`graph!` keeps it so); a `packed` of another shape
/// is ignored.
///
/// # Panics
/// If `x` is m × k, `w` must be k × n, `bias` (if any) n long and `out`
/// m × n.
#[track_caller]
pub fn dense_packed_into(
    x: ArrayView2<'_, f32>,
    w: ArrayView2<'_, f32>,
    packed: &PackedWeights,
    bias: Option<ArrayView1<'_, f32>>,
    activation: Activation,
    out: ArrayViewMut2<'_, f32>,
) {
    check("dense_packed", &x, &w, bias.as_ref(), &out);
    let kernels = match packed.panels(w.nrows(), w.ncols()) {
        Some(panels) => Kernels::Panels(panels),
        None => Kernels::Simd,
    };
    product(x, w, bias, activation, out, false, kernels);
}

/// Mutable access to a weight matrix that has a packed copy: derefs to the
/// matrix's view, and packs it again when dropped, so the copy always
/// holds what the matrix holds. What `graph!`'s `w_mut` returns for such a
/// variable.
pub struct WeightsMut<'a> {
    view: ArrayViewMut2<'a, f32>,
    packed: &'a mut PackedWeights,
}

impl<'a> WeightsMut<'a> {
    /// Access to `view`, whose packed copy is `packed`.
    #[must_use]
    pub fn new(view: ArrayViewMut2<'a, f32>, packed: &'a mut PackedWeights) -> Self {
        Self { view, packed }
    }
}

impl<'a> Deref for WeightsMut<'a> {
    type Target = ArrayViewMut2<'a, f32>;

    fn deref(&self) -> &Self::Target {
        &self.view
    }
}

impl DerefMut for WeightsMut<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.view
    }
}

impl Drop for WeightsMut<'_> {
    fn drop(&mut self) {
        self.packed.pack(self.view.view());
    }
}

impl core::fmt::Debug for WeightsMut<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.view.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, s, Array1, Array2};

    /// `activation(x·w + bias)` in `f64`, element by element, rounded to
    /// `f32`.
    #[allow(clippy::cast_possible_truncation)] // The rounding meant.
    fn reference(x: &Array2<f32>, w: &Array2<f32>, bias: &Array1<f32>) -> Array2<f32> {
        Array2::from_shape_fn((x.nrows(), w.ncols()), |(i, j)| {
            let dot: f64 = (0..x.ncols())
                .map(|p| f64::from(x[[i, p]]) * f64::from(w[[p, j]]))
                .sum();
            (dot + f64::from(bias[j])).max(0.0) as f32
        })
    }

    #[allow(clippy::many_single_char_names)] // The matrix-product letters.
    fn operands(m: usize, k: usize, n: usize) -> (Array2<f32>, Array2<f32>, Array1<f32>) {
        let x = Array2::from_shape_fn((m, k), |(i, p)| ((i * 5 + p * 3) % 7) as f32 / 7.0 - 0.4);
        let w = Array2::from_shape_fn((k, n), |(p, j)| {
            ((p * 11 + j * 13) % 17) as f32 / 17.0 - 0.5
        });
        let bias = Array1::from_shape_fn(n, |j| (j % 3) as f32 / 10.0);
        (x, w, bias)
    }

    fn assert_close(actual: &Array2<f32>, expected: &Array2<f32>, what: &str) {
        for (a, e) in actual.iter().zip(expected) {
            assert!(
                (a - e).abs() <= 1e-4 * e.abs().max(1.0),
                "{what}: {a} is not {e}"
            );
        }
    }

    /// `relu(x·w + bias)` through [`dense_packed_into`], into a fresh
    /// output filled with NaN (so an element left unwritten shows).
    fn relu_layer(
        x: &Array2<f32>,
        w: &Array2<f32>,
        packed: &PackedWeights,
        bias: &Array1<f32>,
    ) -> Array2<f32> {
        let mut out = Array2::from_elem((x.nrows(), w.ncols()), f32::NAN);
        dense_packed_into(
            x.view(),
            w.view(),
            packed,
            Some(bias.view()),
            Activation::Relu,
            out.view_mut(),
        );
        out
    }

    #[test]
    fn single_rows_match_the_reference_for_every_panel_shape() {
        // Columns: under one vector, one narrow strip, exactly one panel,
        // one past it, several with a partial last one. Inner sizes: one
        // step, odd, over one 256-step block, several blocks.
        // Under Miri, which checks every access of the SIMD kernel, fewer.
        let (columns, inner): (&[usize], &[usize]) = if cfg!(miri) {
            (&[10, 65], &[7, 300])
        } else {
            (&[1, 10, 64, 65, 128, 200], &[1, 7, 300, 784])
        };
        for &n in columns {
            for &k in inner {
                let (x, w, bias) = operands(1, k, n);
                let packed = PackedWeights::new(w.view());
                let simd = super::super::dense::simd_available();
                assert_eq!(
                    packed.panels(k, n).is_some(),
                    simd,
                    "packed on SIMD CPUs only"
                );
                let out = relu_layer(&x, &w, &packed, &bias);
                assert_close(&out, &reference(&x, &w, &bias), &format!("1 × {k} × {n}"));
            }
        }
    }

    #[test]
    fn batches_of_every_tile_height_match_the_reference() {
        // Rows: every tile height (1 to 6), full 6-row tiles with each
        // remainder; columns: strips of 16, 32 and 64 with masked tails.
        let (rows, columns): (&[usize], &[usize]) = if cfg!(miri) {
            (&[2, 7], &[70])
        } else {
            (&[2, 3, 4, 5, 6, 7, 11, 13, 64], &[9, 16, 40, 70, 128])
        };
        for &m in rows {
            for &n in columns {
                let (x, w, bias) = operands(m, 300, n);
                let packed = PackedWeights::new(w.view());
                let out = relu_layer(&x, &w, &packed, &bias);
                assert_close(&out, &reference(&x, &w, &bias), &format!("{m} × 300 × {n}"));
            }
        }
    }

    #[test]
    fn other_products_read_the_matrix() {
        // Packed weights of another shape are ignored, not misread.
        let (x, w, bias) = operands(1, 40, 70);
        let stale = PackedWeights::new(Array2::<f32>::ones((40, 69)).view());
        let out = relu_layer(&x, &w, &stale, &bias);
        assert_close(&out, &reference(&x, &w, &bias), "stale");
        // An output with strided columns takes the general kernels.
        let mut wide = Array2::zeros((1, 140));
        dense_packed_into(
            x.view(),
            w.view(),
            &PackedWeights::new(w.view()),
            Some(bias.view()),
            Activation::Relu,
            wide.slice_mut(s![.., ..;2]),
        );
        assert_close(
            &wide.slice(s![.., ..;2]).to_owned(),
            &reference(&x, &w, &bias),
            "strided",
        );
    }

    #[test]
    fn editing_through_the_guard_repacks() {
        let mut w = array![[1.0_f32, 2.0], [3.0, 4.0]];
        let mut packed = PackedWeights::new(w.view());
        {
            let mut edit = WeightsMut::new(w.view_mut(), &mut packed);
            edit[[0, 1]] = -2.0;
            edit.row_mut(1).fill(10.0);
        }
        assert_eq!(w, array![[1.0, -2.0], [10.0, 10.0]]);
        assert_eq!(packed, PackedWeights::new(w.view()));
        // x·w by hand: [1·1 + 1·10, 1·(-2) + 1·10].
        let mut out = Array2::zeros((1, 2));
        dense_packed_into(
            array![[1.0_f32, 1.0]].view(),
            w.view(),
            &packed,
            None,
            Activation::Identity,
            out.view_mut(),
        );
        assert_eq!(out, array![[11.0, 8.0]]);
    }

    #[test]
    fn a_clone_reads_the_same_panels() {
        let (x, w, bias) = operands(1, 50, 70);
        // Clone many times: the copies' storage starts at varied offsets
        // from a cache line, and each must find its panels.
        let packed = PackedWeights::new(w.view());
        let clones: Vec<PackedWeights> = (0..16).map(|_| packed.clone()).collect();
        for clone in &clones {
            assert_eq!(clone, &packed);
            let out = relu_layer(&x, &w, clone, &bias);
            assert_close(&out, &reference(&x, &w, &bias), "clone");
        }
        assert_eq!(
            format!("{packed:?}"),
            "PackedWeights { rows: 50, cols: 70, .. }"
        );
    }

    #[test]
    fn repacking_the_same_shape_keeps_the_storage() {
        let (_, w, _) = operands(1, 100, 90);
        let mut packed = PackedWeights::new(w.view());
        let before = packed.storage.as_ptr();
        packed.pack((&w * 2.0).view());
        assert_eq!(packed.storage.as_ptr(), before);
        assert_eq!(packed, PackedWeights::new((&w * 2.0).view()));
        if super::super::dense::simd_available() {
            // Panels on a cache-line boundary, zeros past the last column.
            let panels = packed.panels(100, 90).unwrap();
            assert_eq!(panels.as_ptr().align_offset(64), 0);
            // 90 columns: five full panels of 16 and one of 10.
            assert_eq!(panels.len(), 6 * 100 * 16);
            let last = 5 * 100 * 16;
            assert_eq!(panels[last + 10], 0.0, "column 90, in the last panel");
            assert_eq!(panels[last + 9], 2.0 * w[[0, 89]]);
            assert_eq!(panels[last + 16 + 9], 2.0 * w[[1, 89]]);
            assert_eq!(panels[16 + 3], 2.0 * w[[1, 3]]);
        }
    }
}
