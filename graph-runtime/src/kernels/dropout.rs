//! Dropout: the identity outside training ([`identity_into`]); in a
//! training step's forward pass, inverted dropout with a stateless,
//! counter-based mask ([`dropout_into`]).
//!
//! The mask is a pure function of `(seed, stream, count, element)`, so the
//! same step of the same run always draws the same mask, and a run resumed
//! from saved state (which holds `count`) continues exactly:
//!
//! - `key = splitmix64(splitmix64(splitmix64(seed) ^ stream) ^ count)`, where
//!   [`splitmix64`]`(z)` is one step of `SplitMix64` from state `z`: `z` plus
//!   `0x9E3779B97F4A7C15`, then its output function;
//! - element `i` (row-major, `i` from 0) draws `u = splitmix64(key + i·0x9E3779B97F4A7C15) >> 40`,
//!   a whole number in `[0, 2²⁴)`: the `i`-th output of `SplitMix64` seeded
//!   with `key`, top 24 bits;
//! - it is dropped when `u < rate·2²⁴` (so with probability `⌈rate·2²⁴⌉/2²⁴`),
//!   and kept otherwise, scaled by `1/(1 − rate)` ([`dropout_scale`]).
//!
//! `graph!` passes the step counter as two `f32` variables holding whole
//! numbers, `count = high·2²⁴ + low` ([`dropout_count`]).

use ndarray::{ArrayView, ArrayView0, ArrayViewMut, Dimension};

use super::shape_panic;

/// `SplitMix64`'s increment: 2⁶⁴ divided by the golden ratio, odd.
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// `2²⁴`: the resolution of the mask's uniform draws, and the period of the
/// counter's low word.
const TWO_24: f64 = 16_777_216.0;

/// One step of `SplitMix64` (Steele, Lea and Flood, 2014) from state `z`:
/// `z + 0x9E3779B97F4A7C15` through its output function (two xor-shift-
/// multiplies and a final xor-shift).
///
/// ```
/// use graph_runtime::kernels::dropout::splitmix64;
///
/// // The first output of SplitMix64 seeded with 0.
/// assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
/// ```
#[must_use]
pub const fn splitmix64(z: u64) -> u64 {
    let mut z = z.wrapping_add(GOLDEN_GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The key of one mask: `splitmix64(splitmix64(splitmix64(seed) ^ stream) ^ count)`.
/// `graph!` makes `stream` from the step and the dropout's place in it, and
/// `count` is the number of steps taken before.
#[must_use]
pub const fn dropout_key(seed: u64, stream: u64, count: u64) -> u64 {
    splitmix64(splitmix64(splitmix64(seed) ^ stream) ^ count)
}

/// Whether element `index` (row-major) of the mask with key `key` is kept
/// at `rate`: the top 24 bits of `splitmix64(key + index·0x9E3779B97F4A7C15)`
/// are at least `rate·2²⁴`.
///
/// ```
/// use graph_runtime::kernels::dropout::{dropout_keeps, dropout_key};
///
/// let key = dropout_key(17, 0, 0);
/// let kept = (0..100_000).filter(|&i| dropout_keeps(key, i, 0.25)).count();
/// assert!((74_000..76_000).contains(&kept));
/// assert!((0..1000).all(|i| dropout_keeps(key, i, 0.0)));
/// ```
#[must_use]
pub fn dropout_keeps(key: u64, index: u64, rate: f32) -> bool {
    let draw = splitmix64(key.wrapping_add(index.wrapping_mul(GOLDEN_GAMMA))) >> 40;
    // `draw` < 2²⁴ is exact in f64, and so is `rate·2²⁴`.
    #[allow(clippy::cast_precision_loss)]
    let draw = draw as f64;
    draw >= f64::from(rate) * TWO_24
}

/// The scale of the kept elements, `1/(1 − rate)` computed in `f64` and
/// rounded once to `f32`.
///
/// ```
/// assert_eq!(graph_runtime::kernels::dropout::dropout_scale(0.5), 2.0);
/// ```
#[must_use]
pub fn dropout_scale(rate: f32) -> f32 {
    #[allow(clippy::cast_possible_truncation)] // One rounding, on purpose.
    let scale = (1.0 / (1.0 - f64::from(rate))) as f32;
    scale
}

/// The step counter from its two words, `high·2²⁴ + low`; each holds a
/// whole number (a negative or fractional word, which only a hand-edited
/// weight file could hold, is truncated towards zero, and saturates).
///
/// ```
/// assert_eq!(graph_runtime::kernels::dropout::dropout_count(5.0, 2.0), 2 * (1 << 24) + 5);
/// ```
#[must_use]
pub fn dropout_count(low: f32, high: f32) -> u64 {
    // Whole numbers below 2²⁴ (low) and 2⁴⁰ (high) convert exactly.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (low, high) = (low as u64, high as u64);
    high.wrapping_shl(24).wrapping_add(low)
}

/// Inverted dropout into `out` of `x`'s shape: element `i` (row-major) is
/// `x[i]·dropout_scale(rate)` where the mask keeps it and `0` where it drops
/// it (even if `x[i]` is NaN or infinite), with the mask of
/// `dropout_key(seed, stream, dropout_count(count_low, count_high))`. The
/// gradient of dropout is the same call on the incoming gradient.
/// No allocation; `x` and `out` may have any layout.
///
/// # Panics
/// If `out` does not have `x`'s shape.
///
/// ```
/// use graph_runtime::kernels::dropout::{dropout_into, dropout_keeps, dropout_key};
/// use ndarray::{arr0, Array1};
///
/// let x = Array1::from_elem(1000, 3.0_f32);
/// let mut y = Array1::zeros(1000);
/// dropout_into(x.view(), arr0(4.0).view(), arr0(0.0).view(), 0.5, 17, 0, y.view_mut());
/// let key = dropout_key(17, 0, 4);
/// for (i, &v) in y.iter().enumerate() {
///     assert_eq!(v, if dropout_keeps(key, i as u64, 0.5) { 6.0 } else { 0.0 });
/// }
/// ```
#[track_caller]
pub fn dropout_into<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    count_low: ArrayView0<'_, f32>,
    count_high: ArrayView0<'_, f32>,
    rate: f32,
    seed: u64,
    stream: u64,
    mut out: ArrayViewMut<'_, f32, D>,
) {
    if x.shape() != out.shape() {
        shape_panic("dropout", &[x.shape(), out.shape()]);
    }
    let key = dropout_key(seed, stream, dropout_count(count_low[()], count_high[()]));
    let scale = dropout_scale(rate);
    // `iter` walks both in row-major order, whatever their layouts.
    for (index, (out, &x)) in (0_u64..).zip(out.iter_mut().zip(x.iter())) {
        *out = if dropout_keeps(key, index, rate) {
            x * scale
        } else {
            0.0
        };
    }
}

/// Dropout outside training: `x` copied into `out` of its shape. (The
/// optimizer removes such nodes; graphs built with `#[optimize(off)]` call
/// this.)
///
/// # Panics
/// If `out` does not have `x`'s shape.
#[track_caller]
pub fn identity_into<D: Dimension>(x: ArrayView<'_, f32, D>, mut out: ArrayViewMut<'_, f32, D>) {
    if x.shape() != out.shape() {
        shape_panic("dropout", &[x.shape(), out.shape()]);
    }
    out.assign(&x);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr0, Array2};

    /// The first outputs of `SplitMix64` seeded with 0, as published with
    /// Vigna's `splitmix64.c` (and produced by Java's `SplittableRandom`).
    #[test]
    fn splitmix64_is_the_reference_generator() {
        let mut state: u64 = 0;
        let mut outputs = Vec::new();
        for _ in 0..3 {
            outputs.push(splitmix64(state));
            state = state.wrapping_add(GOLDEN_GAMMA);
        }
        assert_eq!(
            outputs,
            [
                0xE220_A839_7B1D_CDAF,
                0x6E78_9E6A_A1B9_65F4,
                0x06C4_5D18_8009_454F
            ]
        );
    }

    #[test]
    fn strided_views_draw_in_row_major_order() {
        let x = Array2::from_shape_fn((4, 3), |(i, j)| (i * 3 + j) as f32 + 1.0);
        let mut plain = Array2::zeros((4, 3));
        dropout_into(
            x.view(),
            arr0(1.0).view(),
            arr0(0.0).view(),
            0.5,
            9,
            2,
            plain.view_mut(),
        );
        // The transpose of the transpose: the same logical array, other strides.
        let xt = x.t().to_owned();
        let mut out_t = Array2::zeros((3, 4));
        dropout_into(
            xt.t(),
            arr0(1.0).view(),
            arr0(0.0).view(),
            0.5,
            9,
            2,
            out_t.view_mut().reversed_axes(),
        );
        assert_eq!(plain, out_t.t());
    }

    #[test]
    fn dropped_elements_are_zero_even_when_not_finite() {
        let x = ndarray::Array1::from_elem(64, f32::NAN);
        let mut y = ndarray::Array1::zeros(64);
        dropout_into(
            x.view(),
            arr0(0.0).view(),
            arr0(0.0).view(),
            0.5,
            1,
            0,
            y.view_mut(),
        );
        assert!(y.iter().any(|v| *v == 0.0) && y.iter().any(|v| v.is_nan()));
    }
}
