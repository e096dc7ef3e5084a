//! Hand-written AVX2+FMA kernels for the benchmark models: the practical
//! limit of one core at batch 1, where an MLP is bound by streaming its
//! weights through the core.
//!
//! Each layer's weights are packed once into panels of 16 columns (two 8-lane
//! vectors), each panel row one 64-byte-aligned cache line, so the inner loop
//! reads every weight once, in order. A tile of `MR` rows × `NP` panels keeps
//! its `MR · NP · 2` accumulators in registers for the whole reduction, then
//! adds the bias, applies relu and stores, so nothing makes a second pass
//! over the output. A single row uses 1 × 4 panels (8 independent FMA chains
//! over 4 weight streams); larger batches use 6 × 1 (12 accumulators, 6
//! broadcasts per 2 weight loads, the shape of BLIS's Haswell kernel). There
//! is no cache blocking beyond that: these models fit in L2.
//!
//! The CPU is checked once, when an implementation is built (`new` returns
//! `None` without AVX2 and FMA); `unsafe` is confined to this module: calls
//! into the `#[target_feature]` functions, and the vector loads and stores.

use staticflow::ndarray::{Array1, Array2, ArrayView2};

use super::data::{MlpData, SeedData};

/// Columns per panel: two vectors of eight `f32`.
const PANEL: usize = 16;
/// Rows per tile when the batch has more than one row.
const TILE_ROWS: usize = 6;
/// Panels per tile for a single row.
const ROW_PANELS: usize = 4;

/// Whether this CPU runs the kernels of this module.
fn detected() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Sixteen `f32` on their own cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; PANEL]);

/// A layer's weights in panels, and its bias padded to whole panels.
struct Packed {
    inputs: usize,
    outputs: usize,
    /// Row `i` of panel `p` at `p * inputs + i`; columns past `outputs` are 0.
    weights: Vec<Line>,
    /// One line per panel; entries past `outputs` are 0.
    bias: Vec<Line>,
}

impl Packed {
    fn new(weights: &Array2<f32>, bias: &Array1<f32>) -> Self {
        let (inputs, outputs) = weights.dim();
        let panels = outputs.div_ceil(PANEL);
        let mut packed = vec![Line([0.0; PANEL]); panels * inputs];
        let mut padded = vec![Line([0.0; PANEL]); panels];
        for ((column, &b), weights) in bias.iter().enumerate().zip(weights.columns()) {
            let (panel, lane) = (column / PANEL, column % PANEL);
            padded[panel].0[lane] = b;
            for (row, &w) in weights.iter().enumerate() {
                packed[panel * inputs + row].0[lane] = w;
            }
        }
        Self {
            inputs,
            outputs,
            weights: packed,
            bias: padded,
        }
    }

    fn panels(&self) -> usize {
        self.bias.len()
    }
}

/// An MLP on packed weights with one preallocated buffer per layer.
pub struct Mlp {
    batch: usize,
    layers: Vec<Packed>,
    buffers: Vec<Vec<f32>>,
}

impl Mlp {
    /// Packs `data`'s weights for `data.x`'s batch size, or `None` if this
    /// CPU lacks AVX2 or FMA.
    pub fn new(data: &MlpData) -> Option<Self> {
        if !detected() {
            return None;
        }
        let batch = data.x.nrows();
        let layers: Vec<Packed> = data
            .layers
            .iter()
            .map(|layer| Packed::new(&layer.weights, &layer.bias))
            .collect();
        let buffers = layers
            .iter()
            .map(|layer| vec![0.0; batch * layer.outputs])
            .collect();
        Some(Self {
            batch,
            layers,
            buffers,
        })
    }
}

impl super::Mlp for Mlp {
    fn logits<'a>(&'a mut self, x: ArrayView2<'a, f32>) -> ArrayView2<'a, f32> {
        let x = x.to_slice().expect("the rows feed row-major arrays");
        let last = self.layers.len() - 1;
        for (index, layer) in self.layers.iter().enumerate() {
            let (done, rest) = self.buffers.split_at_mut(index);
            let input = done.last().map_or(x, Vec::as_slice);
            assert_eq!(
                input.len(),
                self.batch * layer.inputs,
                "input of layer {index}"
            );
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `new` built `self` only after detecting AVX2 and FMA.
            unsafe {
                kernels::dense(input, self.batch, layer, index != last, &mut rest[0]);
            }
            #[cfg(not(target_arch = "x86_64"))]
            unreachable!("`new` returns None off x86-64 ({input:?}, {rest:?})");
        }
        let outputs = self.layers[last].outputs;
        ArrayView2::from_shape((self.batch, outputs), &self.buffers[last]).expect("batch x outputs")
    }
}

/// The seed graph, eight lanes at a time.
pub struct Seed {
    out: Array2<f32>,
}

impl Seed {
    /// Allocates the output row, or `None` if this CPU lacks AVX2 or FMA.
    pub fn new(data: &SeedData) -> Option<Self> {
        detected().then(|| Self {
            out: Array2::zeros(data.a.raw_dim()),
        })
    }
}

impl super::VectorSeed for Seed {
    fn res<'a>(
        &'a mut self,
        a: ArrayView2<'a, f32>,
        b: ArrayView2<'a, f32>,
    ) -> ArrayView2<'a, f32> {
        let a = a.to_slice().expect("the rows feed row-major arrays");
        let b = b.to_slice().expect("the rows feed row-major arrays");
        let out = self
            .out
            .as_slice_mut()
            .expect("owned arrays are contiguous");
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `new` built `self` only after detecting AVX2 and FMA.
        unsafe {
            kernels::seed(a, b, out);
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("`new` returns None off x86-64 ({a:?}, {b:?}, {out:?})");
        self.out.view()
    }
}

#[cfg(target_arch = "x86_64")]
mod kernels {
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_div_ps, _mm256_fmadd_ps, _mm256_load_ps, _mm256_loadu_ps,
        _mm256_max_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_store_ps,
        _mm256_storeu_ps,
    };

    use super::{Line, Packed, PANEL, ROW_PANELS, TILE_ROWS};

    /// `(a · b) / (a + b)` elementwise into `out`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn seed(a: &[f32], b: &[f32], out: &mut [f32]) {
        assert!(
            a.len() == out.len() && b.len() == out.len(),
            "seed operands differ in length"
        );
        let mut outs = out.chunks_exact_mut(8);
        let (mut a8, mut b8) = (a.chunks_exact(8), b.chunks_exact(8));
        for ((out, a), b) in (&mut outs).zip(&mut a8).zip(&mut b8) {
            // SAFETY: each chunk holds exactly the 8 floats one load or store
            // touches; unaligned access is what `loadu`/`storeu` are for.
            unsafe {
                let (a, b) = (_mm256_loadu_ps(a.as_ptr()), _mm256_loadu_ps(b.as_ptr()));
                let res = _mm256_div_ps(_mm256_mul_ps(a, b), _mm256_add_ps(a, b));
                _mm256_storeu_ps(out.as_mut_ptr(), res);
            }
        }
        let tails = outs
            .into_remainder()
            .iter_mut()
            .zip(a8.remainder())
            .zip(b8.remainder());
        for ((out, &a), &b) in tails {
            *out = (a * b) / (a + b);
        }
    }

    /// One dense layer, `out = x · W + bias` then relu if asked, for `rows`
    /// rows of `x` (row-major, `rows × layer.inputs`) into `out` (row-major,
    /// `rows × layer.outputs`).
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn dense(x: &[f32], rows: usize, layer: &Packed, relu: bool, out: &mut [f32]) {
        assert_eq!(x.len(), rows * layer.inputs, "dense input size");
        assert_eq!(out.len(), rows * layer.outputs, "dense output size");
        let panels = layer.panels();
        if rows == 1 {
            for panel in (0..panels).step_by(ROW_PANELS) {
                match panels - panel {
                    1 => tile::<1, 1>(x, layer, 0, panel, relu, out),
                    2 => tile::<1, 2>(x, layer, 0, panel, relu, out),
                    3 => tile::<1, 3>(x, layer, 0, panel, relu, out),
                    _ => tile::<1, ROW_PANELS>(x, layer, 0, panel, relu, out),
                }
            }
            return;
        }
        for row in (0..rows).step_by(TILE_ROWS) {
            for panel in 0..panels {
                match rows - row {
                    1 => tile::<1, 1>(x, layer, row, panel, relu, out),
                    2 => tile::<2, 1>(x, layer, row, panel, relu, out),
                    3 => tile::<3, 1>(x, layer, row, panel, relu, out),
                    4 => tile::<4, 1>(x, layer, row, panel, relu, out),
                    5 => tile::<5, 1>(x, layer, row, panel, relu, out),
                    _ => tile::<TILE_ROWS, 1>(x, layer, row, panel, relu, out),
                }
            }
        }
    }

    /// Rows `row0..row0 + MR` × panels `panel0..panel0 + NP` of one layer.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    // r, p, v index several arrays in lockstep; k, n, i, a, w mirror the
    // formula out[r, j] = Σ_i x[r, i] · w[i, j].
    #[allow(clippy::needless_range_loop, clippy::many_single_char_names)]
    fn tile<const MR: usize, const NP: usize>(
        x: &[f32],
        layer: &Packed,
        row0: usize,
        panel0: usize,
        relu: bool,
        out: &mut [f32],
    ) {
        let (k, n) = (layer.inputs, layer.outputs);
        let x_rows: [&[f32]; MR] = std::array::from_fn(|r| &x[(row0 + r) * k..][..k]);
        let w_panels: [&[Line]; NP] =
            std::array::from_fn(|p| &layer.weights[(panel0 + p) * k..][..k]);
        let mut acc = [[[_mm256_setzero_ps(); 2]; NP]; MR];
        for i in 0..k {
            let mut w = [[_mm256_setzero_ps(); 2]; NP];
            for p in 0..NP {
                w[p] = load(&w_panels[p][i]);
            }
            for r in 0..MR {
                let a = _mm256_set1_ps(x_rows[r][i]);
                for p in 0..NP {
                    for v in 0..2 {
                        acc[r][p][v] = _mm256_fmadd_ps(a, w[p][v], acc[r][p][v]);
                    }
                }
            }
        }
        let zero = _mm256_setzero_ps();
        for p in 0..NP {
            let bias = load(&layer.bias[panel0 + p]);
            let column = (panel0 + p) * PANEL;
            let width = PANEL.min(n - column);
            for r in 0..MR {
                let mut line = Line([0.0; PANEL]);
                for v in 0..2 {
                    let mut y = _mm256_add_ps(acc[r][p][v], bias[v]);
                    if relu {
                        y = _mm256_max_ps(y, zero);
                    }
                    // SAFETY: `line` is 64-byte aligned and holds 16 floats, so
                    // both halves are aligned, in-bounds 8-float stores.
                    unsafe { _mm256_store_ps(line.0.as_mut_ptr().add(8 * v), y) };
                }
                out[(row0 + r) * n + column..][..width].copy_from_slice(&line.0[..width]);
            }
        }
    }

    /// The two vectors of one line.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn load(line: &Line) -> [__m256; 2] {
        let p = line.0.as_ptr();
        // SAFETY: a `Line` is 64-byte aligned and holds 16 floats, so both
        // halves are aligned, in-bounds 8-float loads.
        unsafe { [_mm256_load_ps(p), _mm256_load_ps(p.add(8))] }
    }
}
