//! AVX2 + FMA micro-kernels behind [`dense`](super::dense), selected at run
//! time. This is the only module of the crate with `unsafe` code.
//!
//! Two kernels compute `out = act(β·out + x·w + bias)` with `β ∈ {0, 1}`:
//!
//! - [`gemm_tiles`] for `w` (and `out`) with unit column stride, whatever the
//!   strides of `x`: each tile keeps an `MR × 8·NV` block of `out` in
//!   registers over a block of `KC` steps of the inner dimension,
//!   broadcasting one element of `x` per row and loading `NV` vectors of one
//!   row of `w` per step (for `MR = 1` this streams the rows of `w` once, as
//!   batch-1 inference wants). Bias and the cheap activations are applied in
//!   registers when the last block of the inner dimension finishes the tile;
//!   the others right after, while the tile is still in L1.
//!   [`gemm_panels`] runs the same tiles over `w` packed in 16-column panels
//!   ([`super::packed::PackedWeights`]): every strip a tile reads is then
//!   contiguous and padded to whole vectors, so no load needs a mask. With
//!   more than 4 rows of `x`, `gemm_tiles` also takes `w` stored transposed
//!   (`g·wᵀ` in a backward pass), copying each strip into the tiles'
//!   buffer through 8 × 8 register transposes. [`gemm_update`] runs the
//!   tiles for an optimizer's update, `w += scale·x·b`, adding each tile's
//!   block into `w` as it finishes.
//! - [`gemm_dots`] for `x` with contiguous rows and `w` with contiguous
//!   columns (a matrix-vector product, or `w` transposed in memory with at
//!   most 4 rows of `x`): dot products, several sharing each load.
//!
//! Behind [`conv`](super::conv), the module also holds [`conv_strip`], the
//! planes kernel of convolutions with at most six output channels (lanes
//! over 16 output positions, rows over the channels, the sums transposed
//! into pixels in registers), and the pools' folds ([`fold_taps`],
//! [`fold_pixels`], `max_run`, `add_run`).
//!
//! All are safe functions: they check the CPU features (detected once) and
//! the layout, and return `false`, having done nothing, when they cannot run,
//! so the caller can fall back to the portable kernels. Shapes are checked
//! by the caller ([`dense`](super::dense) panics on a mismatch before calling
//! here) and asserted again here, since the pointer arithmetic relies on
//! them.

use core::arch::x86_64::{
    __m256, __m256i, _mm256_add_ps, _mm256_andnot_ps, _mm256_blendv_ps, _mm256_castps256_ps128,
    _mm256_cmp_ps, _mm256_cmpgt_epi32, _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_loadu_ps,
    _mm256_maskload_ps, _mm256_maskstore_ps, _mm256_max_ps, _mm256_mul_ps, _mm256_permute2f128_ps,
    _mm256_set1_epi32, _mm256_set1_ps, _mm256_setr_epi32, _mm256_setzero_ps, _mm256_shuffle_ps,
    _mm256_storeu_ps, _mm256_unpackhi_ps, _mm256_unpacklo_ps, _mm_add_ps, _mm_add_ss,
    _mm_cvtss_f32, _mm_movehdup_ps, _mm_movehl_ps, _CMP_LT_OQ, _CMP_UNORD_Q,
};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU8, Ordering};

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2};

use super::dense::Activation;

/// Steps of the inner dimension per block: a block of `w` for one column
/// strip (`KC × 64` floats at most) stays in L1 while every row block of `x`
/// passes over it.
const KC: usize = 256;

/// Whether the CPU has AVX2 and FMA. Detected on the first call and cached.
pub(super) fn available() -> bool {
    // 0: not yet detected, 1: absent, 2: present.
    static STATE: AtomicU8 = AtomicU8::new(0);
    match STATE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let present = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            STATE.store(if present { 2 } else { 1 }, Ordering::Relaxed);
            present
        }
    }
}

/// Runs `body` compiled for AVX2 and FMA when the CPU has them, as it is
/// otherwise.
///
/// `body` is inlined into a function built for those features, so a plain
/// loop inside it (an elementwise map over slices) is vectorised eight
/// lanes wide instead of the baseline target's four. Its results are the
/// same bit for bit: Rust never contracts `a * b + c` into a fused
/// multiply-add, and every other instruction rounds as the scalar one does.
#[inline]
pub(super) fn with_avx2<R>(body: impl FnOnce() -> R) -> R {
    #[target_feature(enable = "avx2,fma")]
    fn run<R>(body: impl FnOnce() -> R) -> R {
        body()
    }
    if available() {
        // SAFETY: `available()` has just confirmed AVX2 and FMA, the only
        // features `run` is compiled for.
        unsafe { run(body) }
    } else {
        body()
    }
}

/// Whether an axis of `len` elements with `stride` is contiguous: a stride
/// of 1, or at most one element (whose stride is never used).
fn unit(stride: isize, len: usize) -> bool {
    len <= 1 || stride == 1
}

/// Raw operands of one product, shared by the tiles.
struct Operands {
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    /// Row stride of `b`; [`PANEL`] when `b` is in panels.
    rsb: isize,
    /// Zero when `b` is a plain matrix; else `b` is laid out in panels
    /// ([`super::packed::PackedWeights`]): `k` rows of [`PANEL`] columns
    /// each, panel after panel, and this is `k`.
    panel_rows: usize,
    /// Column stride of `b`: for the tile kernel, 1, or (with `rsb = 1`,
    /// `b` transposed in memory) the distance between its columns, whose
    /// strips the tiles then always read from a packed copy.
    csb: isize,
    c: *mut f32,
    rsc: isize,
    /// Column stride of `c` (used by the dot kernel only; the tile kernel
    /// requires 1).
    csc: isize,
    /// Null when there is no bias.
    bias: *const f32,
    /// Stride of `bias` (the tile kernel requires 1).
    bias_stride: isize,
    act: Activation,
    /// `Some(scale)`: finished tiles add `scale · (a·b)` into what `c`
    /// holds ([`gemm_update`]: an optimizer's update of a weight matrix by
    /// its gradient) instead of storing `act(a·b + bias)`.
    update: Option<f32>,
}

/// `out = act(β·out + x·w + bias)` with the tile kernel. Returns `false`,
/// doing nothing, when AVX2/FMA are missing, `out` or `bias` do not have
/// unit column stride, or `w` has neither unit column stride nor, with
/// more than 4 rows of `x`, unit row stride.
///
/// # Panics
/// If the shapes do not fit (`x` m × k, `w` k × n, `bias` n, `out` m × n).
#[allow(clippy::many_single_char_names)] // The matrix-product letters.
pub(super) fn gemm_tiles(
    x: &ArrayView2<'_, f32>,
    w: &ArrayView2<'_, f32>,
    bias: Option<&ArrayView1<'_, f32>>,
    act: Activation,
    out: &mut ArrayViewMut2<'_, f32>,
    accumulate: bool,
) -> bool {
    let (m, k) = x.dim();
    let n = w.ncols();
    assert!(
        w.nrows() == k && out.dim() == (m, n) && bias.is_none_or(|b| b.len() == n),
        "gemm_tiles: shapes do not fit"
    );
    if !tiles_read(w, m) || !tile_layout(out, bias, n) || !available() {
        return false;
    }
    let transposed = stored_transposed(w, m);
    if m == 0 || n == 0 {
        return true;
    }
    let ops = Operands {
        csb: if transposed { w.strides()[1] } else { 1 },
        ..tile_operands(x, w.as_ptr(), w.strides()[0], 0, bias, act, out)
    };
    // SAFETY: `available()` has just confirmed AVX2 and FMA, the only
    // features `tiles` is compiled for. The operands satisfy its contract:
    // `x` is m × k, `w` k × n, `out` m × n and `bias` n long (asserted
    // above), m and n are at least 1, `out` and `bias` have unit column
    // stride and `w` unit column stride or, with m > 4, unit row stride
    // (checked above; `csb` tells which), every pointer and stride comes
    // from a live view, and `out` is borrowed mutably, so it aliases
    // neither input.
    unsafe { tiles(&ops, m, k, n, accumulate) };
    true
}

/// Whether the tile kernel reads `w` (k × n) in a product with `rows`
/// rows of `x`: with unit column stride, or stored transposed (see
/// [`stored_transposed`]).
pub(super) fn tiles_read(w: &ArrayView2<'_, f32>, rows: usize) -> bool {
    unit(w.strides()[1], w.ncols()) || stored_transposed(w, rows)
}

/// Whether the tile kernel reads `w` as stored transposed (`b.t()` of a
/// row-major `b`: unit row stride only), packing it strip by strip through
/// the 6-row tiles' 16-column buffer: for more than 4 rows of `x` only
/// (fewer take wider strips, and the dot kernel reads such a `w` in place
/// at full speed).
fn stored_transposed(w: &ArrayView2<'_, f32>, rows: usize) -> bool {
    let (k, n) = w.dim();
    !unit(w.strides()[1], n) && unit(w.strides()[0], k) && rows > 4
}

/// Whether the dot kernel reads `w` (k × n): with its columns contiguous.
pub(super) fn dots_read(w: &ArrayView2<'_, f32>) -> bool {
    unit(w.strides()[0], w.nrows())
}

/// `w += scale · x·b` with the tile kernel: each tile adds `scale·g` to
/// its block of `w` as it finishes, `g` summed as [`gemm_tiles`] sums it
/// and the update rounded as a separate pass would round it (`w + (scale·g)`),
/// so the gradient needs no storage of its own and no second pass. Returns
/// `false`, doing nothing, when AVX2/FMA are missing, `b` or `w` do not
/// have unit column stride, or the inner dimension is longer than one block
/// of the kernel (`KC`), whose partial sums would need storage.
///
/// # Panics
/// If the shapes do not fit (`x` m × k, `b` k × n, `w` m × n).
#[allow(clippy::many_single_char_names)] // The matrix-product letters.
pub(super) fn gemm_update(
    x: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    scale: f32,
    w: &mut ArrayViewMut2<'_, f32>,
) -> bool {
    let (m, k) = x.dim();
    let n = b.ncols();
    assert!(
        b.nrows() == k && w.dim() == (m, n),
        "gemm_update: shapes do not fit"
    );
    if !unit(b.strides()[1], n) || !tile_layout(w, None, n) || k > KC || !available() {
        return false;
    }
    if m == 0 || n == 0 || k == 0 {
        return true;
    }
    let ops = Operands {
        update: Some(scale),
        ..tile_operands(
            x,
            b.as_ptr(),
            b.strides()[0],
            0,
            None,
            Activation::Identity,
            w,
        )
    };
    // SAFETY: `available()` has just confirmed AVX2 and FMA, the only
    // features `tiles` is compiled for. The operands satisfy its contract:
    // `x` is m × k, `b` k × n and `w` m × n (asserted above), m, n and k
    // are at least 1, `b` and `w` have unit column stride (checked above),
    // every pointer and stride comes from a live view, and `w` is borrowed
    // mutably, so it aliases neither input. With `k ≤ KC` the product is
    // one block, so each tile starts from zero and finishes, adding its
    // update, in the same pass.
    unsafe { tiles(&ops, m, k, n, false) };
    true
}

/// Whether `out` (m × n) and `bias` (n) have the unit column stride the
/// tile kernel requires.
fn tile_layout(out: &ArrayViewMut2<'_, f32>, bias: Option<&ArrayView1<'_, f32>>, n: usize) -> bool {
    unit(out.strides()[1], n) && bias.is_none_or(|b| unit(b.strides()[0], n))
}

/// The tile kernel's operands: `x`, `out` and `bias` from their views, and
/// `b` at `b`, rows `rsb` apart, plain (`panel_rows = 0`) or in panels.
fn tile_operands(
    x: &ArrayView2<'_, f32>,
    b: *const f32,
    rsb: isize,
    panel_rows: usize,
    bias: Option<&ArrayView1<'_, f32>>,
    act: Activation,
    out: &mut ArrayViewMut2<'_, f32>,
) -> Operands {
    Operands {
        a: x.as_ptr(),
        rsa: x.strides()[0],
        csa: x.strides()[1],
        b,
        rsb,
        panel_rows,
        csb: 1,
        c: out.as_mut_ptr(),
        rsc: out.strides()[0],
        csc: 1,
        bias: bias.map_or(core::ptr::null(), ArrayView1::as_ptr),
        bias_stride: 1,
        act,
        update: None,
    }
}

/// `acc[i] = nan_max(acc[i], source[i])` (NaN wins from either side, else
/// the larger, `acc` on ties) for each float of `acc`: max pooling's fold of
/// one window tap over a run of floats. Returns `false`, doing nothing,
/// when AVX2/FMA are missing.
///
/// # Panics
/// If `source` is shorter than `acc`.
pub(super) fn max_run(acc: &mut [f32], source: &[f32]) -> bool {
    let source = &source[..acc.len()];
    if !available() {
        return false;
    }
    // SAFETY: `available()` has just confirmed AVX2 and FMA, the features
    // `max_run_avx2` is compiled for; it is safe code otherwise.
    unsafe { max_run_avx2(acc, source) };
    true
}

/// `acc[i] += source[i]` for each float of `acc`: average pooling's fold of
/// one window tap over a run of floats. Returns `false`, doing nothing, when
/// AVX2/FMA are missing.
///
/// # Panics
/// If `source` is shorter than `acc`.
pub(super) fn add_run(acc: &mut [f32], source: &[f32]) -> bool {
    let source = &source[..acc.len()];
    if !available() {
        return false;
    }
    // SAFETY: `available()` has just confirmed AVX2 and FMA, the features
    // `add_run_avx2` is compiled for; it is safe code otherwise.
    unsafe { add_run_avx2(acc, source) };
    true
}

/// `acc[i]` = −∞ folded by `nan_max` (with `MAX`; else 0 plus each in
/// turn) with `taps[0][i]`, `taps[1][i]`, … in turn: a pool's fold of all
/// the taps of a window over a run, in one pass that keeps each vector of
/// `acc` in a register. Returns `false`, doing nothing, when AVX2/FMA are
/// missing.
///
/// # Panics
/// If a tap is shorter than `acc`.
pub(super) fn fold_taps<const MAX: bool>(acc: &mut [f32], taps: &[&[f32]]) -> bool {
    assert!(
        taps.iter().all(|tap| tap.len() >= acc.len()),
        "fold_taps: a tap shorter than the run"
    );
    if !available() {
        return false;
    }
    // SAFETY: `available()` has just confirmed AVX2 and FMA, the features
    // `fold_taps_avx2` is compiled for; the assertion above makes every tap
    // at least as long as `acc`.
    unsafe { fold_taps_avx2::<MAX>(acc, taps) };
    true
}

/// [`fold_taps`]'s loop: eight floats of `acc` at a time, folding every
/// tap into one register. A run that is not a whole number of vectors
/// ends with the vector of its last eight floats, which overlaps the one
/// before: `acc` is only written, never read, so the overlap is computed
/// twice to the same values (a masked tail would be several times slower).
///
/// # Safety
/// The CPU must support AVX2 and FMA; every tap must hold at least
/// `acc.len()` floats.
#[target_feature(enable = "avx2,fma")]
unsafe fn fold_taps_avx2<const MAX: bool>(acc: &mut [f32], taps: &[&[f32]]) {
    let len = acc.len();
    if len < 8 {
        for (i, a) in acc.iter_mut().enumerate() {
            let mut kept = if MAX { f32::NEG_INFINITY } else { 0.0 };
            for tap in taps {
                kept = fold_lane::<MAX>(kept, tap[i]);
            }
            *a = kept;
        }
        return;
    }
    let init = _mm256_set1_ps(if MAX { f32::NEG_INFINITY } else { 0.0 });
    let mut i = 0;
    loop {
        let at = i.min(len - 8);
        let mut kept = init;
        for tap in taps {
            // SAFETY: `at + 8 ≤ len ≤ tap.len()`.
            let new = unsafe { _mm256_loadu_ps(tap.as_ptr().add(at)) };
            kept = fold_vector::<MAX>(kept, new);
        }
        // SAFETY: `at + 8 ≤ len`, inside `acc`, borrowed mutably.
        unsafe { _mm256_storeu_ps(acc.as_mut_ptr().add(at), kept) };
        if at + 8 == len {
            break;
        }
        i += 8;
    }
}

/// Pooling's fold of the windows of a run of `count` pixels, pixel by
/// pixel: for pixel `x < count` and channel `c`, `out[x·channels + c]` is
/// −∞ folded by `nan_max` (with `MAX`; else 0 plus each in turn) with
/// `taps[t][x·step + c]` for each tap `t` in turn (`step` floats between
/// the windows of consecutive pixels). The floats of `out` after the run's
/// may be overwritten with others (a run of pixels stores its last
/// channels' vectors into the next run's place, when `out` reaches
/// there): runs are to be folded in order. Returns `false`, doing nothing,
/// when AVX2/FMA are missing.
///
/// # Panics
/// If `channels` is 0, `out` is shorter than the run, or a tap is too short
/// for a pixel's channels.
pub(super) fn fold_pixels<const MAX: bool>(
    out: &mut [f32],
    count: usize,
    taps: &[&[f32]],
    step: usize,
    channels: usize,
) -> bool {
    assert!(
        channels > 0 && out.len() >= count * channels,
        "fold_pixels: {} floats for {count} pixels of {channels} channels",
        out.len()
    );
    if let Some(last) = count.checked_sub(1) {
        let reach = last * step + channels;
        assert!(
            taps.iter().all(|tap| tap.len() >= reach),
            "fold_pixels: a tap shorter than the pixels' windows"
        );
    }
    if !available() {
        return false;
    }
    // SAFETY: `available()` has just confirmed AVX2 and FMA, the features
    // `fold_pixels_avx2` is compiled for; it is safe code otherwise.
    unsafe { fold_pixels_avx2::<MAX>(out, count, taps, step, channels) };
    true
}

/// [`fold_pixels`]'s loop: each pixel's channels eight at a time, every tap
/// folded into one register. A pixel of fewer than eight channels still
/// takes one vector: the lanes past its channels read the floats after
/// them and are stored over the next pixel's first channels, which that
/// pixel's own store, coming after, replaces. More channels than a whole
/// number of vectors end with their last eight, overlapping the vector
/// before with the same values. Where a vector would read past a tap or
/// write past `out` (the last pixels of the image), the channels are
/// folded one by one.
#[target_feature(enable = "avx2,fma")]
fn fold_pixels_avx2<const MAX: bool>(
    out: &mut [f32],
    count: usize,
    taps: &[&[f32]],
    step: usize,
    channels: usize,
) {
    let init = if MAX { f32::NEG_INFINITY } else { 0.0 };
    let reach = taps.iter().map(|tap| tap.len()).min().unwrap_or(usize::MAX);
    let len = out.len();
    for x in 0..count {
        let (from, at) = (x * step, x * channels);
        let mut k = 0;
        loop {
            let lane = if channels >= 8 {
                k.min(channels - 8)
            } else {
                0
            };
            if from + lane + 8 <= reach && at + lane + 8 <= len {
                let mut kept = _mm256_set1_ps(init);
                for tap in taps {
                    // SAFETY: `from + lane + 8 ≤ reach ≤ tap.len()`.
                    let new = unsafe { _mm256_loadu_ps(tap.as_ptr().add(from + lane)) };
                    kept = fold_vector::<MAX>(kept, new);
                }
                // SAFETY: `at + lane + 8 ≤ len`, inside `out`, borrowed
                // mutably.
                unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(at + lane), kept) };
            } else {
                for c in lane..(lane + 8).min(channels) {
                    let mut kept = init;
                    for tap in taps {
                        kept = fold_lane::<MAX>(kept, tap[from + c]);
                    }
                    out[at + c] = kept;
                }
            }
            if lane + 8 >= channels {
                break;
            }
            k += 8;
        }
    }
}

/// A pool's fold of one value: `nan_max(kept, new)` with `MAX`, else the
/// sum.
#[inline]
fn fold_lane<const MAX: bool>(kept: f32, new: f32) -> f32 {
    if MAX {
        super::reduce::nan_max(kept, new)
    } else {
        kept + new
    }
}

/// [`fold_lane`] on each of eight lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn fold_vector<const MAX: bool>(kept: __m256, new: __m256) -> __m256 {
    if MAX {
        nan_max_vector(kept, new)
    } else {
        _mm256_add_ps(kept, new)
    }
}

/// `nan_max(kept, new)` on each lane: `max_ps(new, kept)` is
/// `new > kept ? new : kept`, right but where `new` alone is NaN, which a
/// blend then takes.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn nan_max_vector(kept: __m256, new: __m256) -> __m256 {
    let only_new_nan = _mm256_andnot_ps(
        _mm256_cmp_ps::<_CMP_UNORD_Q>(kept, kept),
        _mm256_cmp_ps::<_CMP_UNORD_Q>(new, new),
    );
    _mm256_blendv_ps(_mm256_max_ps(new, kept), new, only_new_nan)
}

/// [`max_run`]'s loop, eight floats at a time by [`nan_max_vector`]. (Written
/// as one blend of `kept` and `new`, the compiler turns it into a masked
/// store, several times slower.)
#[target_feature(enable = "avx2,fma")]
fn max_run_avx2(acc: &mut [f32], source: &[f32]) {
    let mut accs = acc.chunks_exact_mut(8);
    let mut sources = source.chunks_exact(8);
    for (a, v) in (&mut accs).zip(&mut sources) {
        // SAFETY: both chunks hold eight floats, which the unaligned loads
        // read and the unaligned store writes; `a` is borrowed mutably.
        unsafe {
            let kept = _mm256_loadu_ps(a.as_ptr());
            let new = _mm256_loadu_ps(v.as_ptr());
            _mm256_storeu_ps(a.as_mut_ptr(), nan_max_vector(kept, new));
        }
    }
    for (a, &v) in accs.into_remainder().iter_mut().zip(sources.remainder()) {
        if !(a.is_nan() || *a >= v) {
            *a = v;
        }
    }
}

/// [`add_run`]'s loop, vectorised with AVX2.
#[target_feature(enable = "avx2,fma")]
fn add_run_avx2(acc: &mut [f32], source: &[f32]) {
    for (a, &v) in acc.iter_mut().zip(source) {
        *a += v;
    }
}

/// Columns per panel of packed weights: the narrowest strip the tiles take
/// (two vectors), so that a strip starts at a panel's edge and each pair of
/// its vectors lies in one panel, whose rows are one cache line each.
pub(super) const PANEL: usize = PAIR;

/// `out = act(x·w + bias)` with the tile kernel, `w` (k × n) read from
/// `panels`, its packed copy ([`super::packed::PackedWeights`]). Returns
/// `false`, doing nothing, when AVX2/FMA are missing or `out` or `bias` do
/// not have unit column stride.
///
/// # Panics
/// If the shapes do not fit (`x` m × k, `bias` n, `out` m × n) or `panels`
/// is not `⌈n / PANEL⌉ · k · PANEL` floats long.
#[allow(clippy::many_single_char_names)] // The matrix-product letters.
pub(super) fn gemm_panels(
    x: &ArrayView2<'_, f32>,
    panels: &[f32],
    n: usize,
    bias: Option<&ArrayView1<'_, f32>>,
    act: Activation,
    out: &mut ArrayViewMut2<'_, f32>,
) -> bool {
    let (m, k) = x.dim();
    assert!(
        out.dim() == (m, n)
            && bias.is_none_or(|b| b.len() == n)
            && panels.len() == n.div_ceil(PANEL) * k * PANEL,
        "gemm_panels: shapes do not fit"
    );
    if !tile_layout(out, bias, n) || !available() || m == 0 || n == 0 || k == 0 {
        return false;
    }
    let ops = tile_operands(x, panels.as_ptr(), PANEL.cast_signed(), k, bias, act, out);
    // SAFETY: `available()` has just confirmed AVX2 and FMA. The operands
    // satisfy `tiles`' contract, with `b` in panels: `panels` holds
    // ⌈n / PANEL⌉ panels of k rows of PANEL floats (asserted above), the
    // last one padded, so every strip (16, 32 or 64 columns wide, starting
    // at a multiple of its width and so of PANEL) reads its pairs of
    // vectors from whole panels, as `strip_in_place` addresses them; `x` is
    // m × k, `out` m × n and `bias` n long, m, n, k ≥ 1, `out` and `bias`
    // have unit column stride, and `out` is borrowed mutably, so it aliases
    // neither input.
    unsafe { tiles(&ops, m, k, n, false) };
    true
}

/// `out = act(β·out + x·w + bias)` with the dot kernel. Returns `false`,
/// doing nothing, when AVX2/FMA are missing or the rows of `x` or the
/// columns of `w` are not contiguous.
///
/// # Panics
/// If the shapes do not fit (`x` m × k, `w` k × n, `bias` n, `out` m × n).
#[allow(clippy::many_single_char_names)] // The matrix-product letters.
pub(super) fn gemm_dots(
    x: &ArrayView2<'_, f32>,
    w: &ArrayView2<'_, f32>,
    bias: Option<&ArrayView1<'_, f32>>,
    act: Activation,
    out: &mut ArrayViewMut2<'_, f32>,
    accumulate: bool,
) -> bool {
    let (m, k) = x.dim();
    let n = w.ncols();
    assert!(
        w.nrows() == k && out.dim() == (m, n) && bias.is_none_or(|b| b.len() == n),
        "gemm_dots: shapes do not fit"
    );
    if !unit(x.strides()[1], k) || !dots_read(w) || !available() {
        return false;
    }
    if m == 0 || n == 0 {
        return true;
    }
    let ops = Operands {
        a: x.as_ptr(),
        rsa: x.strides()[0],
        csa: 1,
        b: w.as_ptr(),
        rsb: 1,
        panel_rows: 0,
        csb: w.strides()[1],
        c: out.as_mut_ptr(),
        rsc: out.strides()[0],
        csc: out.strides()[1],
        bias: bias.map_or(core::ptr::null(), ArrayView1::as_ptr),
        bias_stride: bias.map_or(0, |b| b.strides()[0]),
        act,
        update: None,
    };
    // SAFETY: `available()` has just confirmed AVX2 and FMA, the only
    // features `dots` is compiled for. The operands satisfy its contract:
    // shapes asserted above, m and n at least 1, the rows of `x` and the
    // columns of `w` contiguous (checked above), every pointer and stride
    // from a live view, and `out` borrowed mutably, so it aliases neither
    // input.
    unsafe { dots(&ops, m, k, n, accumulate) };
    true
}

/// A mask selecting the first `count` lanes (all of them for `count ≥ 8`,
/// none for `count ≤ 0`).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn lane_mask(count: isize) -> __m256i {
    // `count` is at most a column count, far below `i32::MAX`; clamping
    // keeps the conversion exact for any input.
    let count = i32::try_from(count.clamp(0, 8)).unwrap_or(8);
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(count),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

/// Loads 8 floats from `ptr`, or with `MASKED` only the lanes `mask` selects
/// (the others read as 0 and their memory is not touched).
///
/// # Safety
/// The selected lanes (all 8 without `MASKED`) must be readable floats.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn load<const MASKED: bool>(ptr: *const f32, mask: __m256i) -> __m256 {
    if MASKED {
        // SAFETY: the caller guarantees the lanes `mask` selects are
        // readable; masked-off lanes are not accessed.
        unsafe { _mm256_maskload_ps(ptr, mask) }
    } else {
        // SAFETY: the caller guarantees 8 readable floats at `ptr`;
        // `loadu` has no alignment requirement.
        unsafe { _mm256_loadu_ps(ptr) }
    }
}

/// Stores `value` to `ptr`, or with `MASKED` only the lanes `mask` selects.
///
/// # Safety
/// The selected lanes (all 8 without `MASKED`) must be writable floats that
/// nothing else is reading or writing.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn store<const MASKED: bool>(ptr: *mut f32, mask: __m256i, value: __m256) {
    if MASKED {
        // SAFETY: the caller guarantees the lanes `mask` selects are
        // writable and unaliased; masked-off lanes are not accessed.
        unsafe { _mm256_maskstore_ps(ptr, mask, value) }
    } else {
        // SAFETY: the caller guarantees 8 writable, unaliased floats at
        // `ptr`; `storeu` has no alignment requirement.
        unsafe { _mm256_storeu_ps(ptr, value) }
    }
}

/// The activations that [`tile`] applies in registers; the others are
/// applied to the stored tile by [`Activation::apply`].
#[inline]
#[target_feature(enable = "avx2,fma")]
fn activate_vector(act: Activation, v: __m256) -> __m256 {
    match act {
        // `max(0, v)` returns `v` when it is NaN, as `unary::relu` does.
        Activation::Relu => _mm256_max_ps(_mm256_setzero_ps(), v),
        Activation::LeakyRelu(alpha) => {
            // Ordered `v < 0` is false for NaN, which stays.
            let negative = _mm256_cmp_ps::<_CMP_LT_OQ>(v, _mm256_setzero_ps());
            _mm256_blendv_ps(v, _mm256_mul_ps(_mm256_set1_ps(alpha), v), negative)
        }
        // Identity needs nothing; the others are applied per element after
        // the store (`vector_activation` is false for them). Listed, not
        // wildcarded, so that a new activation has to be placed.
        Activation::Identity
        | Activation::Sigmoid
        | Activation::Tanh
        | Activation::GeluTanh
        | Activation::GeluExact
        | Activation::Softplus
        | Activation::Clip(..)
        | Activation::Silu
        | Activation::Elu(_)
        | Activation::HardSigmoid(..) => v,
    }
}

/// Whether [`activate_vector`] handles `act` (otherwise it is applied per
/// element after the store).
fn vector_activation(act: Activation) -> bool {
    match act {
        Activation::Identity | Activation::Relu | Activation::LeakyRelu(_) => true,
        Activation::Sigmoid
        | Activation::Tanh
        | Activation::GeluTanh
        | Activation::GeluExact
        | Activation::Softplus
        | Activation::Clip(..)
        | Activation::Silu
        | Activation::Elu(_)
        | Activation::HardSigmoid(..) => false,
    }
}

/// Drives the tile kernel over the whole product: blocks of the inner
/// dimension, then row panels of `MR` rows, then column strips.
///
/// # Safety
/// The CPU must support AVX2 and FMA, and `ops` must describe `a` (m × k,
/// any strides), `b` (k × n, unit column stride; or, with `panel_rows = k`,
/// in ⌈n / PANEL⌉ panels of k rows of [`PANEL`] floats, the last one
/// padded to full width; or, for m > 4, unit row stride and column stride
/// `csb ≠ 1`), `c` (m × n, unit column
/// stride) and `bias` (null, or n floats with unit stride) inside live
/// allocations, with `c` aliasing none of the others; `m, n ≥ 1`.
#[target_feature(enable = "avx2,fma")]
unsafe fn tiles(ops: &Operands, m: usize, k: usize, n: usize, accumulate: bool) {
    // Left uninitialised: `pack_strip` writes every row a tile then reads.
    let mut packed = Packed([MaybeUninit::uninit(); KC * PACK_WIDTH]);
    // Equal blocks: 784 = 4 × 196 rather than 3 × 256 + 16.
    let blocks = k.div_ceil(KC).max(1);
    let block_len = k.div_ceil(blocks);
    for block in 0..blocks {
        let k0 = block * block_len;
        let kc = block_len.min(k - k0);
        let step = Step {
            k0,
            kc,
            load_c: accumulate || block > 0,
            last: block + 1 == blocks,
        };
        // SAFETY (for every call below): forwarded from this function's
        // contract; each panel's rows lie in `0..m` and `k0 + kc ≤ k`.
        unsafe {
            if m <= 4 {
                panel_for(ops, m, 0, m, n, &step, &mut packed);
            } else {
                panel::<6, 2, 1, 1, 2>(ops, 0, m, n, &step, &mut packed);
            }
        }
    }
}

/// Columns of a packed strip of `b`.
const PACK_WIDTH: usize = 16;

/// A strip of `b` (`KC` rows of `PACK_WIDTH` columns) copied contiguously:
/// rows of `b` lie a multiple of 512 bytes apart for the usual layer
/// widths, so in place a strip would crowd a few L1 sets and be evicted
/// before the next row tile reuses it.
#[repr(C, align(64))]
struct Packed([MaybeUninit<f32>; KC * PACK_WIDTH]);

/// Whether a strip of `b` (rows `rsb` floats apart) is worth copying
/// before `rows` rows of tiles sweep it.
///
/// The copy costs a pass over the whole strip; what it saves depends on how
/// much of the strip the L1 cache (64 sets of 64-byte lines, as on every
/// recent x86-64 core) can hold in place. Rows a multiple of 64 bytes
/// apart share few sets: with `s` sets, `8·s` lines at most (8 ways) stay
/// cached, and the rest are fetched from L2 again by every tile. Measured
/// on Zen 4 (64 × 784 × 128 with rows 512 bytes apart: 8 sets; 512 × 512 ×
/// 512, 2 KiB: 2 sets), the copy pays from about `48·s` rows on: below
/// that, the hardware prefetcher streams the strip from L2 for each tile
/// faster than the copy (64 rows: 1.15x slower with the copy at 8 sets;
/// 512 rows: 1.3x faster with it at 2 sets).
fn worth_packing(rows: usize, rsb: isize) -> bool {
    const SETS: usize = 64;
    let bytes = rsb.unsigned_abs() * core::mem::size_of::<f32>();
    let sets = if bytes.is_multiple_of(64) {
        let lines = bytes / 64;
        // Rows `lines` lines apart visit SETS / gcd(lines, SETS) sets.
        let mut gcd = (lines, SETS);
        while gcd.1 != 0 {
            gcd = (gcd.1, gcd.0 % gcd.1);
        }
        SETS / gcd.0.max(1)
    } else {
        SETS
    };
    rows >= 48 * sets
}

/// One block of the inner dimension.
struct Step {
    k0: usize,
    kc: usize,
    /// Whether the tiles add to what `c` holds (otherwise they overwrite it).
    load_c: bool,
    /// Whether this block finishes the product: bias and activation follow.
    last: bool,
}

/// Runs [`panel`] for rows `i0..i1` with the strip plan of `mr`-row tiles
/// (`mr = 0` does nothing).
///
/// # Safety
/// As [`tiles`], with rows `i0..i1` inside `0..m`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn panel_for(
    ops: &Operands,
    mr: usize,
    i0: usize,
    i1: usize,
    n: usize,
    step: &Step,
    packed: &mut Packed,
) {
    // Per row count: the main strip (NV vectors, KU step-interleaved
    // accumulator sets) and the narrow tail strip, chosen so that the
    // accumulators, one row of `b` and a broadcast fit in 16 registers and
    // at least 8 FMA chains run side by side where the columns allow.
    // SAFETY (for every call): forwarded from this function's contract.
    unsafe {
        match mr {
            1 => panel::<1, 8, 1, 2, 4>(ops, i0, i1, n, step, packed),
            2 => panel::<2, 4, 1, 2, 2>(ops, i0, i1, n, step, packed),
            3 => panel::<3, 2, 2, 2, 2>(ops, i0, i1, n, step, packed),
            4 => panel::<4, 2, 1, 2, 1>(ops, i0, i1, n, step, packed),
            5 => panel::<5, 2, 1, 1, 2>(ops, i0, i1, n, step, packed),
            6 => panel::<6, 2, 1, 1, 2>(ops, i0, i1, n, step, packed),
            _ => {}
        }
    }
}

/// Covers rows `i0..i1` and all `n` columns: strips of `8·NV` columns,
/// each swept by every `MR`-row tile (the last with fewer rows if `MR` does
/// not divide `i1 − i0`) before the next strip, so the strip's block of `b`
/// is reused from cache; the last,
/// partial strip uses `TNV` vectors and `TKU` accumulator sets if it is at
/// most `8·TNV` wide, masked `NV`-vector tiles otherwise. A strip at most
/// [`PACK_WIDTH`] wide is first copied into `packed` when enough rows sweep
/// it ([`worth_packing`]).
///
/// # Safety
/// As [`tiles`], with rows `i0..i1` inside `0..m`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn panel<
    const MR: usize,
    const NV: usize,
    const KU: usize,
    const TNV: usize,
    const TKU: usize,
>(
    ops: &Operands,
    i0: usize,
    i1: usize,
    n: usize,
    step: &Step,
    packed: &mut Packed,
) {
    let width = 8 * NV;
    // A transposed `b` (`csb ≠ 1`) comes here only with 16-column strips
    // (6-row tiles, m > 4), which always fit the packing buffer.
    let pack = width <= PACK_WIDTH && (ops.csb != 1 || worth_packing(i1 - i0, ops.rsb));
    let mut j0 = 0;
    // SAFETY (for every call): forwarded from this function's contract;
    // each tile covers rows `i..i + rows` within `i0..i1` and columns
    // `j0..j0 + cols` within `0..n`, with `cols` at most its vector width
    // and, unmasked, exactly that width; its `b` is either the strip in
    // place (`b[k0, j0]`, addressed by `strip_in_place`) or the copy that
    // `pack_strip` has just written (`kc` rows of `width ≥ cols` floats,
    // `width` apart, `width ≤ PAIR` so a single pair), so every lane a tile
    // loads is written.
    unsafe {
        while j0 < n {
            let cols = width.min(n - j0);
            let b = if pack {
                pack_strip(ops, step, j0, cols, width, packed);
                Strip {
                    start: packed.0.as_ptr().cast::<f32>(),
                    row_stride: width.cast_signed(),
                    pair_stride: PAIR.cast_signed(),
                    padded: true,
                }
            } else {
                strip_in_place(ops, step, j0)
            };
            let mut i = i0;
            while i < i1 {
                let rows = MR.min(i1 - i);
                if rows < MR {
                    if cols == width {
                        tile_rows::<NV, KU, false>(rows, ops, b, i, j0, cols, step);
                    } else if cols == 8 * TNV {
                        tile_rows::<TNV, TKU, false>(rows, ops, b, i, j0, cols, step);
                    } else if cols <= 8 * TNV {
                        tile_rows::<TNV, TKU, true>(rows, ops, b, i, j0, cols, step);
                    } else {
                        tile_rows::<NV, KU, true>(rows, ops, b, i, j0, cols, step);
                    }
                } else if cols == width {
                    tile::<MR, NV, KU, false>(ops, b, i, j0, cols, step);
                } else if cols == 8 * TNV {
                    // A tail strip of whole vectors (8 columns of a layer
                    // 8 wide, or 24 of 24): no masks, whose stores are slow
                    // on some cores.
                    tile::<MR, TNV, TKU, false>(ops, b, i, j0, cols, step);
                } else if cols <= 8 * TNV {
                    tile::<MR, TNV, TKU, true>(ops, b, i, j0, cols, step);
                } else {
                    tile::<MR, NV, KU, true>(ops, b, i, j0, cols, step);
                }
                i += rows;
            }
            j0 += cols;
        }
    }
}

/// [`tile`] with `rows` (1 to 5) rows: the last rows of a panel whose row
/// count is not a multiple of its tile height, sharing its strip of `b`.
///
/// # Safety
/// As [`tile`] with `MR = rows`.
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)] // The tile's operands, forwarded.
unsafe fn tile_rows<const NV: usize, const KU: usize, const MASKED: bool>(
    rows: usize,
    ops: &Operands,
    b: Strip,
    i0: usize,
    j0: usize,
    cols: usize,
    step: &Step,
) {
    // SAFETY (for every call): forwarded from this function's contract.
    unsafe {
        match rows {
            1 => tile::<1, NV, KU, MASKED>(ops, b, i0, j0, cols, step),
            2 => tile::<2, NV, KU, MASKED>(ops, b, i0, j0, cols, step),
            3 => tile::<3, NV, KU, MASKED>(ops, b, i0, j0, cols, step),
            4 => tile::<4, NV, KU, MASKED>(ops, b, i0, j0, cols, step),
            5 => tile::<5, NV, KU, MASKED>(ops, b, i0, j0, cols, step),
            _ => {}
        }
    }
}

/// Floats in two vectors: the unit in which a tile's row of `b` may be
/// split ([`Strip::pair_stride`]).
const PAIR: usize = 16;

/// Where a tile reads its strip of `b`: row `p` of the strip (inner step
/// `k0 + p`) starts at `start + p·row_stride`, and within a row, columns
/// `16·q..16·q + 16` (vectors `2q` and `2q + 1`) start `q·pair_stride`
/// floats after the row's start.
#[derive(Clone, Copy)]
struct Strip {
    start: *const f32,
    row_stride: isize,
    pair_stride: isize,
    /// Whether each row holds whole pairs of vectors, zeros past the
    /// strip's last column, so that a tile may load every vector of a pair
    /// that holds one of its columns without a mask.
    padded: bool,
}

/// The strip of `b` at `b[k0, j0]` as it lies in memory: plain (rows `rsb`
/// apart, each row's columns contiguous), or in panels of [`PANEL`]
/// columns (rows `PANEL` floats apart, consecutive pairs of vectors a whole
/// panel apart), provided `j0` is a multiple of `PANEL`, as the start of
/// every strip is.
#[allow(clippy::cast_possible_wrap)] // Indices of live views, below isize::MAX.
fn strip_in_place(ops: &Operands, step: &Step, j0: usize) -> Strip {
    if ops.panel_rows > 0 {
        let panel = j0 / PANEL;
        Strip {
            start: ops
                .b
                .wrapping_add((panel * ops.panel_rows + step.k0) * PANEL + j0 % PANEL),
            row_stride: PANEL as isize,
            pair_stride: (ops.panel_rows * PANEL) as isize,
            padded: true,
        }
    } else {
        Strip {
            start: ops
                .b
                .wrapping_offset(step.k0 as isize * ops.rsb + j0 as isize),
            row_stride: ops.rsb,
            pair_stride: PAIR as isize,
            padded: false,
        }
    }
}

/// Copies `b[k0..k0 + kc, j0..j0 + cols]` into `packed`, `width` floats per
/// row with zeros after column `cols`.
///
/// # Safety
/// `ops.b` must describe `b` (k × n, unit column stride, or unit row
/// stride with `ops.csb ≠ 1`) inside a live allocation, with
/// `step.k0 + step.kc ≤ k`, `j0 + cols ≤ n` and `cols ≤ width ≤ PACK_WIDTH`.
#[inline]
#[allow(clippy::cast_possible_wrap)] // As in `strip_in_place`.
unsafe fn pack_strip(
    ops: &Operands,
    step: &Step,
    j0: usize,
    cols: usize,
    width: usize,
    packed: &mut Packed,
) {
    if ops.csb != 1 {
        // SAFETY: forwarded; `b` has unit row stride here.
        unsafe { pack_transposed_strip(ops, step, j0, cols, width, packed) };
        return;
    }
    let strip = strip_in_place(ops, step, j0);
    if cols == PACK_WIDTH {
        // A whole strip: rows of a fixed length, which compile to vector
        // moves (the general loop below runs element by element, and cost
        // a tenth of a 256 × 256 × 256 product).
        for (p, row) in packed
            .0
            .chunks_exact_mut(PACK_WIDTH)
            .take(step.kc)
            .enumerate()
        {
            let source = strip.start.wrapping_offset(p as isize * strip.row_stride);
            // SAFETY: row `k0 + p` < k and columns `j0..j0 + PACK_WIDTH`,
            // all below n, of `b`; `row` is PACK_WIDTH floats of `packed`,
            // which `b` (borrowed shared by the caller) does not overlap.
            unsafe {
                core::ptr::copy_nonoverlapping(source, row.as_mut_ptr().cast::<f32>(), PACK_WIDTH);
            }
        }
        return;
    }
    for (p, row) in packed.0.chunks_exact_mut(width).take(step.kc).enumerate() {
        let source = strip.start.wrapping_offset(p as isize * strip.row_stride);
        for (j, slot) in row.iter_mut().enumerate() {
            slot.write(if j < cols {
                // SAFETY: row `k0 + p` < k and column `j0 + j` < n of `b`.
                unsafe { source.add(j).read() }
            } else {
                0.0
            });
        }
    }
}

/// [`pack_strip`] for `b` stored transposed (unit row stride, columns
/// `csb` apart): column `j0 + j` of the strip is a contiguous run of `b`'s
/// memory, written down column `j` of `packed`; columns from `cols` to
/// `width` are zeros.
///
/// # Safety
/// As [`pack_strip`], with `b` of unit row stride and column stride
/// `ops.csb`.
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::cast_possible_wrap)] // As in `strip_in_place`.
unsafe fn pack_transposed_strip(
    ops: &Operands,
    step: &Step,
    j0: usize,
    cols: usize,
    width: usize,
    packed: &mut Packed,
) {
    let column = |j: usize| {
        ops.b
            .wrapping_offset(step.k0 as isize + (j0 + j) as isize * ops.csb)
    };
    // Whole 8 × 8 blocks (8 columns, 8 steps) through registers: each
    // column's 8 floats are one load, and the transpose gives the 8 rows.
    let (blocked_cols, blocked_steps) = (cols / 8 * 8, step.kc / 8 * 8);
    let target = packed.0.as_mut_ptr().cast::<f32>();
    for j in (0..blocked_cols).step_by(8) {
        for p in (0..blocked_steps).step_by(8) {
            let mut lanes = [_mm256_setzero_ps(); 8];
            for (i, lane) in lanes.iter_mut().enumerate() {
                // SAFETY: column `j0 + j + i` < n (j + i < cols), rows
                // `k0 + p..k0 + p + 8` ≤ k0 + kc ≤ k of `b`, contiguous.
                *lane = unsafe { _mm256_loadu_ps(column(j + i).add(p)) };
            }
            for (t, row) in transpose8(lanes).into_iter().enumerate() {
                // SAFETY: floats `j..j + 8` (j + 8 ≤ cols ≤ width) of row
                // `p + t` < kc ≤ KC of `packed`, which holds KC rows of
                // `width ≤ PACK_WIDTH` floats and overlaps no operand.
                unsafe { _mm256_storeu_ps(target.add((p + t) * width + j), row) };
            }
        }
    }
    let rows = &mut packed.0[..step.kc * width];
    // The steps past the last whole block of 8, for those columns.
    for j in 0..blocked_cols {
        let column = column(j);
        for p in blocked_steps..step.kc {
            // SAFETY: as below.
            rows[p * width + j].write(unsafe { column.add(p).read() });
        }
    }
    // The other columns, and zeros past the strip's last.
    for j in blocked_cols..width {
        if j < cols {
            let column = column(j);
            for (p, slot) in rows.iter_mut().skip(j).step_by(width).enumerate() {
                // SAFETY: row `k0 + p` < k (p < kc) and column `j0 + j` < n
                // of `b`, at `k0 + p` floats (unit row stride) past the
                // column's start.
                slot.write(unsafe { column.add(p).read() });
            }
        } else {
            for slot in rows.iter_mut().skip(j).step_by(width) {
                slot.write(0.0);
            }
        }
    }
}

/// One `MR × 8·NV` tile of `c` at row `i0`, column `j0`, of which the first
/// `cols` columns are real (all `8·NV` unless `MASKED`), over the inner
/// steps `step.k0..step.k0 + step.kc`; with `step.last`, bias and
/// activation are applied before the store.
///
/// `KU` accumulator sets take the inner steps in turn (step `p` goes to set
/// `p mod KU`) and are summed at the end, which breaks the FMA latency chain
/// when the tile is narrow.
///
/// `b` addresses the strip of `b` that the tile reads (see [`Strip`]),
/// which holds at least the `cols` columns from `j0`.
///
/// # Safety
/// As [`tiles`], with rows `i0..i0 + MR` inside `0..m`, columns
/// `j0..j0 + cols` inside `0..n`, `step.k0 + step.kc ≤ k`,
/// `cols = 8·NV` unless `MASKED` (then `1 ≤ cols ≤ 8·NV`), and `b`
/// addressing `kc` readable rows of `cols` floats.
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::cast_possible_wrap)] // Indices come from the sizes of live views, below isize::MAX.
unsafe fn tile<const MR: usize, const NV: usize, const KU: usize, const MASKED: bool>(
    ops: &Operands,
    b: Strip,
    i0: usize,
    j0: usize,
    cols: usize,
    step: &Step,
) {
    let mut masks = [lane_mask(8); NV];
    if MASKED {
        for (v, mask) in masks.iter_mut().enumerate() {
            *mask = lane_mask(cols as isize - 8 * v as isize);
        }
    }
    // Element addresses are formed with `wrapping_offset`, so even the
    // address of a fully masked vector past the end of a row is only
    // computed, never an out-of-bounds `offset`; every address that is
    // dereferenced is that of an element of its operand (rows below m, or
    // below kc in the strip; columns below n, or below `cols` in the strip:
    // the masks cut each vector at column `cols`).
    let a = ops
        .a
        .wrapping_offset(i0 as isize * ops.rsa + step.k0 as isize * ops.csa);
    let c = ops.c.wrapping_offset(i0 as isize * ops.rsc + j0 as isize);

    let mut acc = [[[_mm256_setzero_ps(); NV]; MR]; KU];
    if step.load_c {
        for (r, row) in acc[0].iter_mut().enumerate() {
            for (v, value) in row.iter_mut().enumerate() {
                let ptr = c.wrapping_offset(r as isize * ops.rsc + 8 * v as isize);
                // SAFETY: row `i0 + r` < m, and the lanes the mask selects
                // are columns below `j0 + cols ≤ n` of `c`.
                *value = unsafe { load::<MASKED>(ptr, masks[v]) };
            }
        }
    }

    // A padded strip has whole pairs of vectors up to the one holding
    // column `cols − 1`: when the tile's vectors are all within them, they
    // load unmasked (masked loads are slow on some cores), and the lanes
    // past `cols` accumulate products with zeros that are never stored.
    if !MASKED || (b.padded && 2 * cols.div_ceil(PAIR) >= NV) {
        // SAFETY: forwarded. Unmasked, every vector is readable: without
        // `MASKED` all `8·NV` columns are the tile's; with it, the strip is
        // padded, so the `⌈cols / 16⌉` pairs holding the tile's columns are
        // whole rows' worth of readable floats, and the `NV` vectors lie in
        // them.
        unsafe { accumulate_steps::<MR, NV, KU, false>(ops, a, b, step.kc, &masks, &mut acc) };
    } else {
        // SAFETY: forwarded; the masks keep each load within `cols`.
        unsafe { accumulate_steps::<MR, NV, KU, true>(ops, a, b, step.kc, &masks, &mut acc) };
    }
    let mut sum = acc[0];
    for set in &acc[1..] {
        for r in 0..MR {
            for v in 0..NV {
                sum[r][v] = _mm256_add_ps(sum[r][v], set[r][v]);
            }
        }
    }

    if let (true, Some(scale)) = (step.last, ops.update) {
        let scale = _mm256_set1_ps(scale);
        for (r, row) in sum.iter_mut().enumerate() {
            for (v, value) in row.iter_mut().enumerate() {
                let ptr = c.wrapping_offset(r as isize * ops.rsc + 8 * v as isize);
                // SAFETY: row `i0 + r` < m, and the lanes the mask selects
                // are columns below `j0 + cols ≤ n` of `c`.
                let kept = unsafe { load::<MASKED>(ptr, masks[v]) };
                // Rounded twice, as `w += scale * g` is: the product, then
                // the sum (no FMA).
                *value = _mm256_add_ps(kept, _mm256_mul_ps(scale, *value));
            }
        }
    } else if step.last {
        if !ops.bias.is_null() {
            let bias = ops.bias.wrapping_add(j0);
            for v in 0..NV {
                // SAFETY: `bias` holds n floats with unit stride, and the
                // selected lanes are entries below `j0 + cols ≤ n`.
                let bv = unsafe { load::<MASKED>(bias.wrapping_add(8 * v), masks[v]) };
                for row in &mut sum {
                    row[v] = _mm256_add_ps(row[v], bv);
                }
            }
        }
        for row in &mut sum {
            for value in row.iter_mut() {
                *value = activate_vector(ops.act, *value);
            }
        }
    }
    for (r, row) in sum.iter().enumerate() {
        for (v, &value) in row.iter().enumerate() {
            let ptr = c.wrapping_offset(r as isize * ops.rsc + 8 * v as isize);
            // SAFETY: row `i0 + r` < m, the selected lanes are columns below
            // `j0 + cols ≤ n`, and `c` is aliased by no input.
            unsafe { store::<MASKED>(ptr, masks[v], value) };
        }
    }
    if step.last && !vector_activation(ops.act) {
        for r in 0..MR {
            let row = c.wrapping_offset(r as isize * ops.rsc);
            for j in 0..cols {
                let ptr = row.wrapping_add(j);
                // SAFETY: row `i0 + r` < m and column `j0 + j` < n of `c`,
                // which nothing else accesses meanwhile.
                unsafe { *ptr = ops.act.apply(*ptr) };
            }
        }
    }
}

/// Runs the `kc` inner steps of a tile, step `p` into accumulator set
/// `p mod KU` (the last `kc mod KU` into set 0), loading `b` with the masks
/// if `MASKED`.
///
/// # Safety
/// As [`tile`], and without `MASKED`, every vector of each row of the strip
/// readable.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn accumulate_steps<
    const MR: usize,
    const NV: usize,
    const KU: usize,
    const MASKED: bool,
>(
    ops: &Operands,
    a: *const f32,
    b: Strip,
    kc: usize,
    masks: &[__m256i; NV],
    acc: &mut [[[__m256; NV]; MR]; KU],
) {
    let mut p = 0;
    while p + KU <= kc {
        for (u, set) in acc.iter_mut().enumerate() {
            // SAFETY: step `p + u < kc`: row `p + u` of the strip and
            // column `k0 + p + u` < k of `a`; rows `i0 + r` < m.
            unsafe { accumulate_step::<MR, NV, MASKED>(ops, a, b, p + u, masks, set) };
        }
        p += KU;
    }
    while p < kc {
        // SAFETY: as above, with `p < kc`.
        unsafe { accumulate_step::<MR, NV, MASKED>(ops, a, b, p, masks, &mut acc[0]) };
        p += 1;
    }
}

/// Adds `a[r, p] · b[p, 0..8·NV]` to `acc[r]` for every row `r < MR` of the
/// tile (`a` and `b` point at the tile's first row and inner step).
///
/// # Safety
/// As [`accumulate_steps`], with `p < kc`.
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::cast_possible_wrap)] // As in `tile`.
unsafe fn accumulate_step<const MR: usize, const NV: usize, const MASKED: bool>(
    ops: &Operands,
    a: *const f32,
    b: Strip,
    p: usize,
    masks: &[__m256i; NV],
    acc: &mut [[__m256; NV]; MR],
) {
    let row = b.start.wrapping_offset(p as isize * b.row_stride);
    let mut bv = [_mm256_setzero_ps(); NV];
    for (v, lane) in bv.iter_mut().enumerate() {
        let ptr = row.wrapping_offset((v / 2) as isize * b.pair_stride + 8 * (v % 2) as isize);
        // SAFETY: row `p < kc` of the strip, columns `8·v..8·v + 8` of it:
        // masked, only those below `cols`, all readable; unmasked, all
        // readable by `accumulate_steps`' contract.
        *lane = unsafe { load::<MASKED>(ptr, masks[v]) };
    }
    for (r, sums) in acc.iter_mut().enumerate() {
        let ptr = a.wrapping_offset(r as isize * ops.rsa + p as isize * ops.csa);
        // SAFETY: row `i0 + r` < m and column `k0 + p` < k of `a`.
        let av = _mm256_set1_ps(unsafe { ptr.read() });
        for (sum, &bv) in sums.iter_mut().zip(&bv) {
            *sum = _mm256_fmadd_ps(av, bv, *sum);
        }
    }
}

/// Drives the dot kernel: `c[i, j] = act(β·c[i, j] + a[i, ·]·b[·, j] + bias[j])`,
/// computing four dot products per pass (over four columns, or over four
/// rows when there is a single column, as in a matrix-vector product).
///
/// # Safety
/// The CPU must support AVX2 and FMA, and `ops` must describe `a` (m × k,
/// unit column stride), `b` (k × n, unit row stride), `c` (m × n, any
/// strides) and `bias` (null, or n floats with stride `bias_stride`) inside
/// live allocations, with `c` aliasing none of the others; `m, n ≥ 1`.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::cast_possible_wrap)] // As in `tile`.
unsafe fn dots(ops: &Operands, m: usize, k: usize, n: usize, accumulate: bool) {
    let finish = |i: usize, j: usize, dot: f32| {
        let ptr = ops
            .c
            .wrapping_offset(i as isize * ops.rsc + j as isize * ops.csc);
        let bias = if ops.bias.is_null() {
            0.0
        } else {
            // SAFETY: entry j < n of the bias.
            unsafe {
                ops.bias
                    .wrapping_offset(j as isize * ops.bias_stride)
                    .read()
            }
        };
        // SAFETY: element (i, j) of `c`, i < m and j < n, which nothing else
        // accesses meanwhile.
        unsafe {
            let base = if accumulate { *ptr } else { 0.0 };
            *ptr = ops.act.apply(base + dot + bias);
        }
    };
    let row = |i: usize| ops.a.wrapping_offset(i as isize * ops.rsa);
    let column = |j: usize| ops.b.wrapping_offset(j as isize * ops.csb);
    if n == 1 {
        let mut i = 0;
        while i + 4 <= m {
            let rows = [row(i), row(i + 1), row(i + 2), row(i + 3)];
            // SAFETY: rows i..i + 4 < m of `a` and column 0 of `b`, each k
            // contiguous floats.
            let sums = unsafe { dot_group::<4, 1>(rows, [column(0)], k) };
            for (r, sum) in sums.iter().enumerate() {
                finish(i + r, 0, sum[0]);
            }
            i += 4;
        }
        while i < m {
            // SAFETY: row i < m of `a` and column 0 of `b`.
            let sums = unsafe { dot_group::<1, 1>([row(i)], [column(0)], k) };
            finish(i, 0, sums[0][0]);
            i += 1;
        }
        return;
    }
    for i in 0..m {
        let mut j = 0;
        while j + 4 <= n {
            let columns = [column(j), column(j + 1), column(j + 2), column(j + 3)];
            // SAFETY: row i < m of `a` and columns j..j + 4 < n of `b`.
            let sums = unsafe { dot_group::<1, 4>([row(i)], columns, k) };
            for (c, &sum) in sums[0].iter().enumerate() {
                finish(i, j + c, sum);
            }
            j += 4;
        }
        while j < n {
            // SAFETY: row i < m of `a` and column j < n of `b`.
            let sums = unsafe { dot_group::<1, 1>([row(i)], [column(j)], k) };
            finish(i, j, sums[0][0]);
            j += 1;
        }
    }
}

/// The `NA × NB` dot products of `k`-long contiguous vectors
/// `rows[r] · columns[c]`, each with two accumulators.
///
/// # Safety
/// Every pointer must address `k` readable contiguous floats.
#[inline]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::cast_possible_wrap)] // `k` is the length of a live view.
unsafe fn dot_group<const NA: usize, const NB: usize>(
    rows: [*const f32; NA],
    columns: [*const f32; NB],
    k: usize,
) -> [[f32; NB]; NA] {
    let mut even = [[_mm256_setzero_ps(); NB]; NA];
    let mut odd = [[_mm256_setzero_ps(); NB]; NA];
    let full = lane_mask(8);
    let mut p = 0;
    while p + 16 <= k {
        for (r, &row) in rows.iter().enumerate() {
            // SAFETY: p + 16 ≤ k: elements p..p + 16 of each vector.
            let (x0, x1) = unsafe {
                (
                    load::<false>(row.wrapping_add(p), full),
                    load::<false>(row.wrapping_add(p + 8), full),
                )
            };
            for (c, &column) in columns.iter().enumerate() {
                // SAFETY: as above.
                let (y0, y1) = unsafe {
                    (
                        load::<false>(column.wrapping_add(p), full),
                        load::<false>(column.wrapping_add(p + 8), full),
                    )
                };
                even[r][c] = _mm256_fmadd_ps(x0, y0, even[r][c]);
                odd[r][c] = _mm256_fmadd_ps(x1, y1, odd[r][c]);
            }
        }
        p += 16;
    }
    while p < k {
        let mask = lane_mask(k as isize - p as isize);
        for (r, &row) in rows.iter().enumerate() {
            // SAFETY: the mask selects elements p..min(p + 8, k) only.
            let x = unsafe { load::<true>(row.wrapping_add(p), mask) };
            for (c, &column) in columns.iter().enumerate() {
                // SAFETY: as above.
                let y = unsafe { load::<true>(column.wrapping_add(p), mask) };
                even[r][c] = _mm256_fmadd_ps(x, y, even[r][c]);
            }
        }
        p += 8;
    }
    let mut sums = [[0.0; NB]; NA];
    for r in 0..NA {
        for c in 0..NB {
            sums[r][c] = horizontal_sum(_mm256_add_ps(even[r][c], odd[r][c]));
        }
    }
    sums
}

/// The sum of the 8 lanes, in a fixed order.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn horizontal_sum(v: __m256) -> f32 {
    let quad = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
    _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)))
}

/// Output channels of one strip of [`conv_strip`].
pub(super) const STRIP_CHANNELS: usize = 6;

/// Output positions of one strip of [`conv_strip`].
pub(super) const STRIP_WIDTH: usize = 16;

/// Where [`conv_strip`] finds its taps: `rows` tap rows of `kw` taps,
/// `dilation` floats apart, over `channels` channels. Tap `(r, j, c)` of
/// the strip's first position is float `r·row_stride + c·channel_stride +
/// j·dilation` of the planes, and the strip's other positions follow it:
/// the planes hold each channel of the input as rows of floats, zero-padded.
pub(super) struct PlaneTaps {
    pub rows: usize,
    pub kw: usize,
    pub channels: usize,
    pub dilation: usize,
    pub row_stride: usize,
    pub channel_stride: usize,
}

impl PlaneTaps {
    /// Taps (filter rows) per strip: `rows · kw · channels`.
    pub(super) fn len(&self) -> usize {
        self.rows * self.kw * self.channels
    }

    /// The float of the planes that the strip's last tap starts at.
    fn last(&self) -> usize {
        (self.rows - 1) * self.row_stride
            + (self.channels - 1) * self.channel_stride
            + (self.kw - 1) * self.dilation
    }
}

/// One strip of a convolution whose output channels are few, written out:
/// for the [`STRIP_CHANNELS`] channels `o` and the [`STRIP_WIDTH`]
/// positions `x` of the strip, the sum over the taps
/// `t = (r·kw + j)·channels + c`, in that order, of `weights[t·6 + o]` times
/// the float `x` past tap `(r, j, c)`'s start in `planes` (see
/// [`PlaneTaps`]), one fused multiply-add per tap into each sum, plus
/// `bias[o]` when there is a bias, through `act`, is stored at
/// `pixels[x·out_channels + o]` for the first `out_channels` channels and
/// as many positions as `pixels` holds.
///
/// Each tap is one row of 16 contiguous floats, which two loads bring in
/// for all six channels: the output channels fill the kernel's rows, not
/// its lanes. Positions past the end of the output row read whatever
/// follows in `planes` and are not stored. Returns `false`, doing nothing,
/// when AVX2/FMA are missing.
///
/// # Panics
/// If a tap's 16 floats reach past the end of `planes`, `weights` holds
/// fewer than six floats per tap, `out_channels` is 0 or above six, or
/// `pixels` holds more than 16 positions or a partial one.
pub(super) fn conv_strip(
    planes: &[f32],
    taps: &PlaneTaps,
    weights: &[f32],
    bias: Option<&[f32; STRIP_CHANNELS]>,
    act: Activation,
    out_channels: usize,
    pixels: &mut [f32],
) -> bool {
    if taps.len() > 0 {
        assert!(
            taps.last() + STRIP_WIDTH <= planes.len()
                && taps.len() * STRIP_CHANNELS <= weights.len(),
            "conv_strip: taps outside the planes or the weights"
        );
    }
    assert!(
        (1..=STRIP_CHANNELS).contains(&out_channels)
            && pixels.len().is_multiple_of(out_channels)
            && pixels.len() <= STRIP_WIDTH * out_channels,
        "conv_strip: {} floats of pixels for {out_channels} channels",
        pixels.len()
    );
    if !available() {
        return false;
    }
    // SAFETY: `available()` has just confirmed AVX2 and FMA; the assertion
    // above bounds every tap's 16 floats inside `planes` and every tap's 6
    // weights inside `weights`.
    let mut sums = unsafe { conv_strip_sums(planes.as_ptr(), taps, weights.as_ptr(), bias, act) };
    if !vector_activation(act) {
        for half in sums.iter_mut().flatten() {
            let mut lanes = [0.0_f32; 8];
            // SAFETY: AVX2 is present; `lanes` holds 8 writable floats.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), *half) };
            for lane in &mut lanes {
                *lane = act.apply(*lane);
            }
            // SAFETY: as above, 8 readable floats.
            *half = unsafe { _mm256_loadu_ps(lanes.as_ptr()) };
        }
    }
    // SAFETY: AVX2 is present; the assertion above sizes `pixels`.
    unsafe { write_strip(&sums, out_channels, pixels) };
    true
}

/// [`conv_strip`]'s sums, with the bias and the activations that
/// [`activate_vector`] handles applied in registers: 12 accumulators (6
/// channels × 2 vectors), 2 loads and 6 broadcasts per tap.
///
/// # Safety
/// The CPU must support AVX2 and FMA; for every tap `(r, j, c)`, the 16
/// floats from its start (see [`PlaneTaps`]) must be readable, and
/// `weights` must hold `6 · taps.len()` readable floats.
#[target_feature(enable = "avx2,fma")]
unsafe fn conv_strip_sums(
    planes: *const f32,
    taps: &PlaneTaps,
    weights: *const f32,
    bias: Option<&[f32; STRIP_CHANNELS]>,
    act: Activation,
) -> [[__m256; 2]; STRIP_CHANNELS] {
    let mut acc = [[_mm256_setzero_ps(); 2]; STRIP_CHANNELS];
    let mut weight = weights;
    for r in 0..taps.rows {
        for j in 0..taps.kw {
            // Addresses are formed with `wrapping_add`: the one past the
            // last channel is computed but never read.
            let mut source = planes.wrapping_add(r * taps.row_stride + j * taps.dilation);
            for _ in 0..taps.channels {
                // SAFETY: tap (r, j, c) of the strip: 16 readable floats
                // from `source`, and its 6 weights from `weight`, by the
                // caller's contract.
                unsafe {
                    let low = _mm256_loadu_ps(source);
                    let high = _mm256_loadu_ps(source.add(8));
                    for (o, sum) in acc.iter_mut().enumerate() {
                        let w = _mm256_set1_ps(weight.add(o).read());
                        sum[0] = _mm256_fmadd_ps(w, low, sum[0]);
                        sum[1] = _mm256_fmadd_ps(w, high, sum[1]);
                    }
                }
                weight = weight.wrapping_add(STRIP_CHANNELS);
                source = source.wrapping_add(taps.channel_stride);
            }
        }
    }
    for (sum, o) in acc.iter_mut().zip(0..) {
        for half in sum.iter_mut() {
            // Without a bias nothing is added (`−0 + 0` would be `+0`).
            if let Some(bias) = bias {
                *half = _mm256_add_ps(*half, _mm256_set1_ps(bias[o]));
            }
            *half = activate_vector(act, *half);
        }
    }
    acc
}

/// Writes a strip's sums (per channel, two vectors of 8 positions) into
/// `pixels`, `out_channels` floats per position: each block of 8 positions
/// is transposed in registers into one vector per position, which is
/// stored whole at its pixel, the lanes past `out_channels` landing on the
/// next pixel before that one's own store replaces them; the strip's last
/// position is stored masked.
///
/// # Safety
/// The CPU must support AVX2 and FMA (the function is safe code
/// otherwise); `pixels` must hold at most 16 positions of `out_channels ≤ 6`
/// floats.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::cast_possible_wrap)] // At most six channels.
fn write_strip(sums: &[[__m256; 2]; STRIP_CHANNELS], out_channels: usize, pixels: &mut [f32]) {
    let positions = pixels.len() / out_channels;
    let zero = _mm256_setzero_ps();
    let last = lane_mask(out_channels as isize);
    for half in 0..2 {
        let mut rows = [zero; 8];
        for (row, sum) in rows.iter_mut().zip(sums) {
            *row = sum[half];
        }
        let columns = transpose8(rows);
        let first = 8 * half;
        for (x, column) in (first..positions.min(first + 8)).zip(columns) {
            let at = x * out_channels;
            if at + 8 <= pixels.len() {
                // SAFETY: 8 floats from `at` lie inside `pixels`, which is
                // borrowed mutably.
                unsafe { _mm256_storeu_ps(pixels.as_mut_ptr().add(at), column) };
            } else {
                // SAFETY: the mask selects `out_channels` lanes, the floats
                // of position x, inside `pixels`.
                unsafe { _mm256_maskstore_ps(pixels.as_mut_ptr().add(at), last, column) };
            }
        }
    }
}

/// Transposes the 8 × 8 block of `source` whose rows start `source_stride`
/// floats apart into `target`, whose rows start `target_stride` floats
/// apart: `target[j·target_stride + i] = source[i·source_stride + j]` for
/// `i, j < 8`. Returns `false`, doing nothing, when AVX2/FMA are missing.
///
/// # Panics
/// If a row of either block reaches past the end of its slice.
pub(super) fn transpose_block8(
    source: &[f32],
    source_stride: usize,
    target: &mut [f32],
    target_stride: usize,
) -> bool {
    assert!(
        7 * source_stride + 8 <= source.len() && 7 * target_stride + 8 <= target.len(),
        "transpose_block8: a block row outside its slice"
    );
    if !available() {
        return false;
    }
    let (from, to) = (source.as_ptr(), target.as_mut_ptr());
    // SAFETY: `available()` has just confirmed AVX2 and FMA; the assertion
    // above keeps the 8 rows of 8 floats on each side inside the slices.
    unsafe { transpose_block8_avx2(from, source_stride, to, target_stride) };
    true
}

/// [`transpose_block8`]'s body: eight row loads, [`transpose8`], eight
/// stores.
///
/// # Safety
/// The CPU must support AVX2 and FMA; rows `0..8` of 8 floats from
/// `source` (`source_stride` apart) must be readable and those from
/// `target` (`target_stride` apart) writable, and unaliased.
#[target_feature(enable = "avx2,fma")]
unsafe fn transpose_block8_avx2(
    source: *const f32,
    source_stride: usize,
    target: *mut f32,
    target_stride: usize,
) {
    let mut rows = [_mm256_setzero_ps(); 8];
    for (i, row) in rows.iter_mut().enumerate() {
        // SAFETY: row i of the source block, per the contract.
        *row = unsafe { _mm256_loadu_ps(source.add(i * source_stride)) };
    }
    for (j, column) in transpose8(rows).into_iter().enumerate() {
        // SAFETY: row j of the target block, per the contract.
        unsafe { _mm256_storeu_ps(target.add(j * target_stride), column) };
    }
}

/// The transpose of an 8 × 8 block held as 8 row vectors: lane `i` of
/// vector `j` of the result is lane `j` of row `i`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn transpose8(rows: [__m256; 8]) -> [__m256; 8] {
    let [r0, r1, r2, r3, r4, r5, r6, r7] = rows;
    // Pairs of rows interleaved, then quads, then the 128-bit halves.
    let t0 = _mm256_unpacklo_ps(r0, r1);
    let t1 = _mm256_unpackhi_ps(r0, r1);
    let t2 = _mm256_unpacklo_ps(r2, r3);
    let t3 = _mm256_unpackhi_ps(r2, r3);
    let t4 = _mm256_unpacklo_ps(r4, r5);
    let t5 = _mm256_unpackhi_ps(r4, r5);
    let t6 = _mm256_unpacklo_ps(r6, r7);
    let t7 = _mm256_unpackhi_ps(r6, r7);
    let q0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let q1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let q2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let q3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let q4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let q5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let q6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let q7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(q0, q4),
        _mm256_permute2f128_ps::<0x20>(q1, q5),
        _mm256_permute2f128_ps::<0x20>(q2, q6),
        _mm256_permute2f128_ps::<0x20>(q3, q7),
        _mm256_permute2f128_ps::<0x31>(q0, q4),
        _mm256_permute2f128_ps::<0x31>(q1, q5),
        _mm256_permute2f128_ps::<0x31>(q2, q6),
        _mm256_permute2f128_ps::<0x31>(q3, q7),
    ]
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array2};

    use super::{
        add_run, available, gemm_dots, gemm_panels, gemm_tiles, gemm_update, max_run,
        worth_packing, Activation, PANEL,
    };

    /// The pools' run kernels, on 19 floats (two vectors and a tail), with
    /// NaN on either side, ties and infinities: the larger (the first on
    /// ties, NaN from either side) and the sum, as plain comparisons give.
    #[test]
    #[allow(clippy::float_cmp)] // Exact by construction.
    fn run_kernels_match_their_definition() {
        let acc: Vec<f32> = (0..19_u8).map(|i| f32::from(i % 7) - 3.0).collect();
        let mut source: Vec<f32> = (0..20_u8).map(|i| f32::from(i % 5) - 2.0).collect();
        source[2] = f32::NAN;
        source[11] = f32::INFINITY;
        let mut with_nan = acc.clone();
        with_nan[9] = f32::NAN;
        let (mut max, mut sum) = (with_nan.clone(), with_nan.clone());
        let ran = max_run(&mut max, &source) & add_run(&mut sum, &source);
        assert_eq!(ran, available());
        if !ran {
            return;
        }
        for i in 0..19 {
            let (a, v) = (with_nan[i], source[i]);
            if a.is_nan() || v.is_nan() {
                assert!(max[i].is_nan() && sum[i].is_nan(), "{i}");
            } else {
                assert_eq!(max[i], if v > a { v } else { a }, "{i}");
                assert_eq!(sum[i], a + v, "{i}");
            }
        }
        assert!(max[2].is_nan() && max[9].is_nan() && max[11] == f32::INFINITY);
    }

    /// Every kernel of the module runs (none falls back) on a small product
    /// whenever the CPU has AVX2 and FMA, and gets it exactly right (the
    /// operands are small integers).
    ///
    /// `.ci/asan` sets `STATICFLOW_EXPECT_SIMD=1`: there this test also
    /// fails unless the build is for AVX2 and FMA and the kernels run, so
    /// the sanitizer run cannot pass having checked only portable code.
    #[test]
    #[allow(clippy::many_single_char_names)] // The matrix-product letters.
    fn every_kernel_runs_where_the_cpu_has_avx2_and_fma() {
        let expected = std::env::var_os("STATICFLOW_EXPECT_SIMD").is_some_and(|v| v == "1");
        if expected {
            assert!(
                cfg!(target_feature = "avx2") && cfg!(target_feature = "fma") && available(),
                "STATICFLOW_EXPECT_SIMD=1, but this build is not for AVX2 and FMA"
            );
        }
        let simd = available();
        // 3 × 5 by 5 × 20: a strip of 16 columns and a masked tail of 4.
        let (m, k, n) = (3, 5, 20);
        let x = Array2::from_shape_fn((m, k), |(i, p)| ((i + 2 * p) % 5) as f32 - 2.0);
        let w = Array2::from_shape_fn((k, n), |(p, j)| ((3 * p + j) % 7) as f32 - 3.0);
        let bias = Array1::from_shape_fn(n, |j| (j % 4) as f32 - 1.5);
        let reference = Array2::from_shape_fn((m, n), |(i, j)| {
            (0..k).map(|p| x[[i, p]] * w[[p, j]]).sum::<f32>() + bias[j]
        });
        let act = Activation::Identity;

        let mut out = Array2::from_elem((m, n), f32::NAN);
        let ran = gemm_tiles(
            &x.view(),
            &w.view(),
            Some(&bias.view()),
            act,
            &mut out.view_mut(),
            false,
        );
        assert_eq!(ran, simd, "tile kernel");
        if ran {
            assert_eq!(out, reference, "tile kernel");
        }

        // `w` in panels of PANEL columns, the last one padded with zeros.
        let mut panels = vec![0.0; n.div_ceil(PANEL) * k * PANEL];
        for ((p, j), &value) in w.indexed_iter() {
            panels[((j / PANEL) * k + p) * PANEL + j % PANEL] = value;
        }
        let mut out = Array2::from_elem((m, n), f32::NAN);
        let ran = gemm_panels(
            &x.view(),
            &panels,
            n,
            Some(&bias.view()),
            act,
            &mut out.view_mut(),
        );
        assert_eq!(ran, simd, "tile kernel on panels");
        if ran {
            assert_eq!(out, reference, "tile kernel on panels");
        }

        // The dot kernel wants the columns of `w` contiguous.
        let columns = w.t().as_standard_layout().into_owned();
        let mut out = Array2::from_elem((m, n), f32::NAN);
        let ran = gemm_dots(
            &x.view(),
            &columns.t(),
            Some(&bias.view()),
            act,
            &mut out.view_mut(),
            false,
        );
        assert_eq!(ran, simd, "dot kernel");
        if ran {
            assert_eq!(out, reference, "dot kernel");
        }

        // More than 4 rows: the tiles take the transposed `w` too, packing
        // its strips, and add an update into a matrix (small integers, so
        // every sum is exact).
        let m = 7;
        let x = Array2::from_shape_fn((m, k), |(i, p)| ((i + 2 * p) % 5) as f32 - 2.0);
        let product = Array2::from_shape_fn((m, n), |(i, j)| {
            (0..k).map(|p| x[[i, p]] * w[[p, j]]).sum::<f32>()
        });
        let mut out = Array2::from_elem((m, n), f32::NAN);
        let ran = gemm_tiles(
            &x.view(),
            &columns.t(),
            None,
            act,
            &mut out.view_mut(),
            false,
        );
        assert_eq!(ran, simd, "tile kernel on a transposed w");
        if ran {
            assert_eq!(out, product, "tile kernel on a transposed w");
        }
        let start = Array2::from_shape_fn((m, n), |(i, j)| (i * n + j) as f32);
        let mut updated = start.clone();
        let ran = gemm_update(&x.view(), &w.view(), -2.0, &mut updated.view_mut());
        assert_eq!(ran, simd, "tile kernel adding an update");
        if ran {
            assert_eq!(
                updated,
                &start - &(&product * 2.0),
                "tile kernel adding an update"
            );
        }
    }

    #[test]
    fn copies_strips_when_their_rows_crowd_few_cache_sets() {
        // 784 × 128 weights: rows 512 bytes apart visit 8 of the 64 sets.
        assert!(!worth_packing(64, 128));
        assert!(!worth_packing(383, 128));
        assert!(worth_packing(384, 128));
        // 512 columns: 2 KiB apart, 2 sets.
        assert!(!worth_packing(95, 512));
        assert!(worth_packing(96, 512));
        // 1024 columns: 4 KiB apart, a single set.
        assert!(worth_packing(48, 1024));
        // Rows that are not a multiple of a line apart spread over all sets.
        assert!(!worth_packing(1000, 10));
        assert!(worth_packing(3072, 10));
        // Negative strides (reversed views) count by magnitude.
        assert!(worth_packing(48, -1024));
    }
}
