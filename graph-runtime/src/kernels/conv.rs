//! 2-D convolution and pooling over NHWC images, with TensorFlow's padding
//! rules, plus the pure size functions behind them.
//!
//! Images are `[batch, height, width, channels]`; filters are
//! `[kernel_height, kernel_width, in_channels, out_channels]` (HWIO). Per
//! spatial axis, with input size `in`, window `k`, stride `s ≥ 1` and dilation
//! `d ≥ 1` (pooling has `d = 1`), the effective window is
//! `k_eff = (k − 1)·d + 1` and:
//!
//! | padding | output size              | padding before + after                          |
//! |---------|--------------------------|-------------------------------------------------|
//! | `Valid` | `⌊(in − k_eff) / s⌋ + 1` (0 if `in < k_eff`) | none                    |
//! | `Same`  | `⌈in / s⌉`               | `max((out − 1)·s + k_eff − in, 0)`, split with the odd one after |
//!
//! [`conv_output_size`] and [`conv_padding`] compute exactly these, so shape
//! rules elsewhere can mirror the kernels.
//!
//! Each kernel has an `_into` form writing into caller storage of the
//! output's shape, for inputs of any layout, with no allocation.
//!
//! The convolution is im2col by blocks: the patches of a block of output
//! positions (a few hundred) are gathered into 16 KiB of stack scratch as
//! the rows of a `[positions, kh·kw·c]` matrix, zeros where a tap reads
//! padding (each tap row is one run of a zero-padded copy of its input row,
//! in 8 KiB more; rows wider than that are gathered position by position),
//! and one product on [`dense`](super::dense)'s kernels with the
//! filter viewed as the `[kh·kw·c, o]` matrix (which an HWIO filter in
//! standard layout is) writes the block's output rows. Wide patches are
//! split into blocks of columns whose products accumulate. A 1 × 1 filter
//! with unit strides skips the gathering: the input, viewed as an
//! `[n·h·w, c]` matrix, is the patch matrix already. A filter holding a NaN
//! or an infinity, with padding, runs the direct kernel instead (one small
//! product per output row and filter tap), which skips the taps on padding
//! rather than multiplying them by 0. The scratch is on the stack, not in
//! a growing thread-local buffer, so that even the first call allocates
//! nothing (`tests/alloc_free.rs` counts from the first call).
//! [`conv2d_fused_into`] adds a bias per output channel and applies an
//! activation in the product's epilogue, when a block's last columns
//! finish its sums.
//!
//! A filter of at most six output channels with a unit horizontal stride
//! (a first layer over one or three channels, say) would fill six of the
//! product kernel's eight lanes over short patches; it runs on planes
//! instead (`planar`): each image is copied once into one zero-padded
//! plane per channel, and a kernel with its lanes over 16 output positions
//! and its rows over the six channels sums each tap as 16 contiguous
//! floats of a plane, then adds the bias, activates, and writes the
//! pixels.
//!
//! The pools fold all the taps of a window at once (on AVX2 where the CPU
//! has it): pixel by pixel when a pixel's channels fill at least half a
//! vector, else over the contiguous floats that a run of an output row's
//! windows span, so that the loops are not a few channels long. Windows
//! that never reach into padding take a path without border checks, a row
//! of output pixels at a time.

use ndarray::{
    s, Array4, ArrayView1, ArrayView2, ArrayView4, ArrayViewMut2, ArrayViewMut4, Axis, Slice, Zip,
};

pub use crate::flat::{conv_output_size, conv_padding, effective_kernel_size, Padding};

use super::dense::{product, Activation, Kernels};
use super::reduce::nan_max;
use super::shape_panic;

/// 2-D convolution (really cross-correlation, as in TensorFlow):
/// `out[b, y, x, o] = Σ_{i, j, c} in[b, y·sh + i·dh − pt, x·sw + j·dw − pl, c] · filter[i, j, c, o]`,
/// where `pt`, `pl` are the padding before (top, left) from [`conv_padding`]
/// and positions outside the input read 0.
///
/// `strides` and `dilations` are `(height, width)`.
///
/// # Panics
/// If the input's channels differ from the filter's input channels, or a
/// stride, dilation or filter size is 0.
///
/// ```
/// use graph_runtime::kernels::conv::{conv2d, Padding};
/// use ndarray::{Array4};
///
/// let image = Array4::from_shape_vec((1, 2, 2, 1), vec![1.0_f32, 2.0, 3.0, 4.0]).unwrap();
/// let ones = Array4::from_elem((2, 2, 1, 1), 1.0_f32);
/// let same = conv2d(image.view(), ones.view(), (1, 1), Padding::Same, (1, 1));
/// // Each window sums what lies right of and below it.
/// assert_eq!(same.into_raw_vec_and_offset().0, vec![10.0, 6.0, 7.0, 4.0]);
/// ```
#[track_caller]
#[must_use]
pub fn conv2d(
    input: ArrayView4<'_, f32>,
    filter: ArrayView4<'_, f32>,
    strides: (usize, usize),
    padding: Padding,
    dilations: (usize, usize),
) -> Array4<f32> {
    let (batch, height, width, _) = input.dim();
    let (kh, kw, _, out_channels) = filter.dim();
    let shape = if [strides.0, strides.1, dilations.0, dilations.1, kh, kw].contains(&0) {
        // Let `conv2d_into` report the bad parameters.
        (batch, 0, 0, out_channels)
    } else {
        (
            batch,
            conv_output_size(height, kh, strides.0, dilations.0, padding),
            conv_output_size(width, kw, strides.1, dilations.1, padding),
            out_channels,
        )
    };
    let mut out = Array4::zeros(shape);
    conv2d_into(input, filter, strides, padding, dilations, out.view_mut());
    out
}

/// [`conv2d`] into caller storage of the output's shape, with no
/// allocation.
///
/// # Panics
/// As [`conv2d`], and if `out` is not
/// `[batch, out_height, out_width, out_channels]`.
///
/// ```
/// use graph_runtime::kernels::conv::{conv2d, conv2d_into, Padding};
/// use ndarray::Array4;
///
/// let image = Array4::from_shape_fn((1, 4, 4, 2), |(_, y, x, c)| (y * 8 + x * 2 + c) as f32);
/// let filter = Array4::from_shape_fn((3, 3, 2, 3), |(i, j, c, o)| (i + j + c + o) as f32 * 0.1);
/// let mut out = Array4::zeros((1, 2, 2, 3));
/// conv2d_into(image.view(), filter.view(), (2, 2), Padding::Same, (1, 1), out.view_mut());
/// assert_eq!(out, conv2d(image.view(), filter.view(), (2, 2), Padding::Same, (1, 1)));
/// ```
#[track_caller]
pub fn conv2d_into(
    input: ArrayView4<'_, f32>,
    filter: ArrayView4<'_, f32>,
    strides: (usize, usize),
    padding: Padding,
    dilations: (usize, usize),
    out: ArrayViewMut4<'_, f32>,
) {
    conv2d_fused_into(
        input,
        filter,
        None,
        Activation::Identity,
        strides,
        padding,
        dilations,
        out,
    );
}

/// [`conv2d_into`] with an epilogue: `out[b, y, x, o] = activation(conv +
/// bias[o])` (no bias term without a bias), applied as each block of output
/// rows is finished, while it is still in cache, instead of in separate
/// passes over the output. No allocation.
///
/// # Panics
/// As [`conv2d_into`], and if `bias` is not `out_channels` long.
///
/// ```
/// use graph_runtime::kernels::conv::{conv2d_fused_into, Padding};
/// use graph_runtime::kernels::dense::Activation;
/// use ndarray::{array, Array4};
///
/// // A 1×1 filter doubling channel 0 and negating it into channel 1.
/// let image = Array4::from_shape_vec((1, 1, 2, 1), vec![1.0_f32, 3.0]).unwrap();
/// let filter = Array4::from_shape_vec((1, 1, 1, 2), vec![2.0_f32, -1.0]).unwrap();
/// let bias = array![-3.0_f32, 2.0];
/// let mut out = Array4::zeros((1, 1, 2, 2));
/// conv2d_fused_into(
///     image.view(),
///     filter.view(),
///     Some(bias.view()),
///     Activation::Relu,
///     (1, 1),
///     Padding::Valid,
///     (1, 1),
///     out.view_mut(),
/// );
/// // relu(2 − 3), relu(−1 + 2); relu(6 − 3), relu(−3 + 2).
/// assert_eq!(out.into_raw_vec_and_offset().0, vec![0.0, 1.0, 3.0, 0.0]);
/// ```
#[track_caller]
#[allow(clippy::too_many_arguments)] // The convolution's operands and geometry.
pub fn conv2d_fused_into(
    input: ArrayView4<'_, f32>,
    filter: ArrayView4<'_, f32>,
    bias: Option<ArrayView1<'_, f32>>,
    activation: Activation,
    strides: (usize, usize),
    padding: Padding,
    dilations: (usize, usize),
    mut out: ArrayViewMut4<'_, f32>,
) {
    let (rows, cols) = check_conv(&input, &filter, strides, padding, dilations, &out);
    let (batch, _, _, channels) = input.dim();
    let (kh, kw, _, out_channels) = filter.dim();
    if bias.as_ref().is_some_and(|b| b.len() != out_channels) {
        let bias_shape = bias.as_ref().map_or(&[][..], ArrayView1::shape);
        shape_panic(
            "conv2d",
            &[input.shape(), filter.shape(), bias_shape, out.shape()],
        );
    }
    let epilogue = Epilogue { bias, activation };
    let positions = batch * rows.output * cols.output;
    if positions == 0 || out_channels == 0 {
        return;
    }
    // Taps on padding are skipped, not multiplied by 0: a NaN or infinite
    // weight reaches only the outputs where its tap lands inside the
    // image. The patches hold zeros there, so such filters (rare, and
    // cheap to detect next to the convolution) take the direct kernel.
    if (rows.padded || cols.padded) && !all_finite(filter) {
        direct(input, filter, rows, cols, out, epilogue);
        return;
    }
    if channels == 0 {
        // No products: every sum is empty, only the epilogue is left.
        out.fill(0.0);
        for mut image in out.outer_iter_mut() {
            for row in image.outer_iter_mut() {
                epilogue.apply(row);
            }
        }
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if planar(input, filter, rows, cols, &mut out, &epilogue) {
        return;
    }
    let mut target = Target::new(out, positions);
    // A 1×1 filter with unit strides reads each pixel once, unpadded: the
    // convolution is the product of the pixels, as an [n·h·w, c] matrix,
    // with the filter's one tap.
    if kh == 1 && kw == 1 && strides == (1, 1) {
        if let (Ok(pixels), Target::Matrix(result)) = (
            input.into_shape_with_order((positions, channels)),
            &mut target,
        ) {
            let tap = filter
                .index_axis_move(Axis(0), 0)
                .index_axis_move(Axis(0), 0);
            product(
                pixels,
                tap,
                epilogue.bias,
                epilogue.activation,
                result.view_mut(),
                false,
                Kernels::Simd,
            );
            return;
        }
    }
    im2col(input, filter, rows, cols, target, epilogue);
}

/// The convolution as im2col by blocks (see the module's documentation),
/// into `target`, for checked operands with at least one position, input
/// channel and output channel.
fn im2col(
    input: ArrayView4<'_, f32>,
    filter: ArrayView4<'_, f32>,
    rows: Geometry,
    cols: Geometry,
    mut target: Target<'_>,
    epilogue: Epilogue<'_>,
) {
    let (batch, _, _, channels) = input.dim();
    let (kh, kw, _, out_channels) = filter.dim();
    let positions = batch * rows.output * cols.output;
    let patches = Patches {
        pixels: Pixels::new(input),
        rows,
        cols,
        kw,
        channels,
    };
    // The filter as the [kh·kw·c, o] matrix that multiplies a patch (an
    // HWIO filter in standard layout already is it); without that view, as
    // one [c, o] matrix per tap, and the blocks of columns stop at taps.
    let taps_len = kh * kw * channels;
    let matrix = filter.into_shape_with_order((taps_len, out_channels)).ok();
    let widest = if matrix.is_some() { taps_len } else { channels };
    let block_cols = widest.min(PATCH_SCRATCH / MIN_BLOCK_ROWS);
    let block_rows = PATCH_SCRATCH / block_cols;
    let mut scratch = [0.0_f32; PATCH_SCRATCH];
    let mut row_scratch = [0.0_f32; ROW_SCRATCH];
    let mut p0 = 0;
    while p0 < positions {
        let p1 = target.block_end(p0, block_rows, positions, cols.output);
        let mut k0 = 0;
        while k0 < taps_len {
            let k1 = if matrix.is_some() {
                (k0 + block_cols).min(taps_len)
            } else {
                (k0 + block_cols).min((k0 / channels + 1) * channels)
            };
            let len = (p1 - p0) * (k1 - k0);
            patches.gather(&mut scratch[..len], p0, k0..k1, &mut row_scratch);
            let Ok(block) = ArrayView2::from_shape((p1 - p0, k1 - k0), &scratch[..len]) else {
                unreachable!("the scratch is cut to the block's size")
            };
            let weights = if let Some(matrix) = &matrix {
                matrix.slice(s![k0..k1, ..])
            } else {
                let tap = k0 / channels;
                let c0 = k0 % channels;
                filter
                    .index_axis(Axis(0), tap / kw)
                    .index_axis_move(Axis(0), tap % kw)
                    .slice_move(s![c0..c0 + (k1 - k0), ..])
            };
            // The blocks of columns accumulate; the last one finishes the
            // sums, and only it adds the bias and activates.
            let (bias, activation) = if k1 == taps_len {
                (epilogue.bias, epilogue.activation)
            } else {
                (None, Activation::Identity)
            };
            product(
                block,
                weights,
                bias,
                activation,
                target.rows(p0..p1, rows.output, cols.output),
                k0 > 0,
                Kernels::Simd,
            );
            k0 = k1;
        }
        p0 = p1;
    }
}

/// Floats of stack scratch for [`planar`]'s planes (16 KiB): one image,
/// a zero-padded plane per channel.
#[cfg(target_arch = "x86_64")]
const PLANE_SCRATCH: usize = 4096;

/// Floats of stack scratch for [`planar`]'s filter (8 KiB), six per tap.
#[cfg(target_arch = "x86_64")]
const PLANAR_FILTER: usize = 2048;

/// Narrowest output row for [`planar`]: its strips are 16 positions wide,
/// and a narrower row would leave most of each strip's lanes idle.
#[cfg(target_arch = "x86_64")]
const PLANAR_MIN_WIDTH: usize = 8;

/// The convolution for at most six output channels and a unit horizontal
/// stride (a first layer over one or three input channels, say), into `out`
/// in standard layout. Returns `false`, doing nothing, when it does not
/// apply (or the CPU lacks AVX2, or an image does not fit the scratch), for
/// the caller to run im2col.
///
/// Such a filter would fill six of the product kernel's eight lanes, over
/// patches a few dozen floats long that im2col gathers in short runs.
/// Here the lanes run over output positions instead: each image is copied
/// once into planes, one per channel, its rows zero-padded left and right,
/// and each tap of a strip of 16 positions of an output row is then 16
/// contiguous floats of a plane, which one kernel step multiplies by the
/// tap's weight for all six channels (`simd::conv_strip`, which also adds
/// the bias, activates, and writes the strip's pixels). Tap rows on
/// padding are skipped, as in the direct kernel; the caller has sent
/// filters with non-finite weights there when padding is involved.
#[cfg(target_arch = "x86_64")]
fn planar(
    input: ArrayView4<'_, f32>,
    filter: ArrayView4<'_, f32>,
    rows: Geometry,
    cols: Geometry,
    out: &mut ArrayViewMut4<'_, f32>,
    epilogue: &Epilogue<'_>,
) -> bool {
    use super::simd::{self, PlaneTaps, STRIP_CHANNELS, STRIP_WIDTH};

    let channels = input.dim().3;
    let (kh, kw, _, out_channels) = filter.dim();
    // Each plane row reaches as far as the input row with its padding
    // before, and as far as the last position's last tap.
    let width = (cols.before + cols.input).max(cols.output + (kw - 1) * cols.dilation);
    let plane = rows.input * width;
    let taps_len = kh * kw * channels;
    let fits = cols.stride == 1
        && out_channels <= STRIP_CHANNELS
        && cols.output >= PLANAR_MIN_WIDTH
        && taps_len * STRIP_CHANNELS <= PLANAR_FILTER
        && channels * plane + STRIP_WIDTH <= PLANE_SCRATCH
        && simd::available();
    if !fits {
        return false;
    }
    let Some(pixels) = out.as_slice_mut() else {
        return false;
    };
    // The filter as six weights per tap, in the taps' order (i, j, c),
    // channels past `out_channels` zero.
    let mut weights = [0.0_f32; PLANAR_FILTER];
    for (t, row) in weights
        .chunks_exact_mut(STRIP_CHANNELS)
        .take(taps_len)
        .enumerate()
    {
        let (i, j, c) = (t / (kw * channels), t / channels % kw, t % channels);
        for (o, weight) in row.iter_mut().take(out_channels).enumerate() {
            *weight = filter[[i, j, c, o]];
        }
    }
    let mut bias = [0.0_f32; STRIP_CHANNELS];
    if let Some(values) = &epilogue.bias {
        for (b, &value) in bias.iter_mut().zip(values) {
            *b = value;
        }
    }
    let bias = epilogue.bias.is_some().then_some(&bias);
    let source = Pixels::new(input);
    // Only the input's part of each plane row is ever written: the padding
    // around it stays 0.
    let mut planes = [0.0_f32; PLANE_SCRATCH];
    let mut results = pixels.chunks_exact_mut(cols.output * out_channels);
    for b in 0..input.dim().0 {
        for y in 0..rows.input {
            for c in 0..channels {
                let start = c * plane + y * width + cols.before;
                let target = &mut planes[start..start + cols.input];
                match source.row(b, y) {
                    Some(row) if channels == 1 => copy_floats(target, row),
                    Some(row) => {
                        let lane = row.iter().skip(c).step_by(channels);
                        for (t, &value) in target.iter_mut().zip(lane) {
                            *t = value;
                        }
                    }
                    None => {
                        for (x, t) in target.iter_mut().enumerate() {
                            *t = input[[b, y, x, c]];
                        }
                    }
                }
            }
        }
        for y in 0..rows.output {
            let Some(result) = results.next() else {
                unreachable!("`out` holds a row per output row")
            };
            // The tap rows inside the input are consecutive: from tap row
            // `first`, reading input row `top`, `count` of them.
            let mut inside = rows.taps(y);
            let (first, top, count) = match inside.next() {
                Some((first, top)) => (first, top, 1 + inside.count()),
                None => (0, 0, 0),
            };
            let taps = PlaneTaps {
                rows: count,
                kw,
                channels,
                dilation: cols.dilation,
                row_stride: rows.dilation * width,
                channel_stride: plane,
            };
            let strip_weights = &weights[first * kw * channels * STRIP_CHANNELS..];
            let strips = result.chunks_mut(STRIP_WIDTH * out_channels);
            for (strip, x0) in strips.zip((top * width..).step_by(STRIP_WIDTH)) {
                let planes = &planes[x0..];
                let activation = epilogue.activation;
                if !simd::conv_strip(
                    planes,
                    &taps,
                    strip_weights,
                    bias,
                    activation,
                    out_channels,
                    strip,
                ) {
                    unreachable!("AVX2 was found above")
                }
            }
        }
    }
    true
}

/// What a fused convolution applies to each finished sum: the bias of its
/// output channel, then the activation.
#[derive(Clone, Copy)]
struct Epilogue<'a> {
    bias: Option<ArrayView1<'a, f32>>,
    activation: Activation,
}

impl Epilogue<'_> {
    /// Whether the epilogue leaves every sum as it is.
    fn is_identity(&self) -> bool {
        self.bias.is_none() && self.activation == Activation::Identity
    }

    /// Applies the epilogue to `pixels`, finished sums with one row per
    /// output pixel and one column per output channel. Without a bias,
    /// nothing is added (`−0 + 0` would be `+0`).
    fn apply(&self, mut pixels: ArrayViewMut2<'_, f32>) {
        if self.is_identity() {
            return;
        }
        let activation = self.activation;
        for mut pixel in pixels.rows_mut() {
            match &self.bias {
                Some(bias) => {
                    Zip::from(&mut pixel)
                        .and(bias)
                        .for_each(|v, &b| *v = activation.apply(*v + b));
                }
                None => pixel.mapv_inplace(|v| activation.apply(v)),
            }
        }
    }
}

/// Floats of stack scratch for one block of the im2col matrix (16 KiB, so
/// that it stays in L1 between being written and being multiplied): a
/// block of output positions times a block of the patch's columns.
const PATCH_SCRATCH: usize = 4096;

/// Floats of stack scratch for one input row with its padding (8 KiB):
/// wider rows take a slower path, which treats the positions at the
/// image's borders one by one.
const ROW_SCRATCH: usize = 2048;

/// Fewest output positions per block (when a patch is wider than
/// `PATCH_SCRATCH / MIN_BLOCK_ROWS` floats, the patch columns are split
/// instead): every row of a block reuses the block's rows of the filter.
const MIN_BLOCK_ROWS: usize = 32;

/// Whether every value of `filter` is finite: lanes of `Σ v·0`, which
/// stay 0 unless a NaN or an infinity turns them NaN (a loop that
/// vectorises, unlike a search that stops at the first hit).
fn all_finite(filter: ArrayView4<'_, f32>) -> bool {
    let Some(values) = filter.as_slice_memory_order() else {
        return filter.iter().all(|v| v.is_finite());
    };
    let mut lanes = [0.0_f32; 8];
    let chunks = values.chunks_exact(lanes.len());
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v * 0.0;
        }
    }
    lanes.iter().all(|&lane| lane == 0.0) && rest.iter().all(|v| v.is_finite())
}

/// Checks `conv2d`'s operands and returns the window geometry per axis.
#[track_caller]
fn check_conv(
    input: &ArrayView4<'_, f32>,
    filter: &ArrayView4<'_, f32>,
    strides: (usize, usize),
    padding: Padding,
    dilations: (usize, usize),
    out: &ArrayViewMut4<'_, f32>,
) -> (Geometry, Geometry) {
    let (batch, height, width, channels) = input.dim();
    let (kh, kw, filter_channels, out_channels) = filter.dim();
    let zero = [strides.0, strides.1, dilations.0, dilations.1, kh, kw].contains(&0);
    let parameters = [strides.0, strides.1, dilations.0, dilations.1];
    if zero || filter_channels != channels {
        shape_panic("conv2d", &[input.shape(), filter.shape(), &parameters]);
    }
    let rows = Geometry::new(height, kh, strides.0, dilations.0, padding);
    let cols = Geometry::new(width, kw, strides.1, dilations.1, padding);
    if out.dim() != (batch, rows.output, cols.output, out_channels) {
        shape_panic(
            "conv2d",
            &[input.shape(), filter.shape(), &parameters, out.shape()],
        );
    }
    (rows, cols)
}

/// The output of a convolution, as the `[positions, o]` matrix of its
/// pixels when its layout allows that view, else as it is (blocks then
/// stop at the end of each output row).
enum Target<'a> {
    Matrix(ArrayViewMut2<'a, f32>),
    Image(ArrayViewMut4<'a, f32>),
}

impl<'a> Target<'a> {
    fn new(out: ArrayViewMut4<'a, f32>, positions: usize) -> Self {
        let out_channels = out.dim().3;
        if out
            .view()
            .into_shape_with_order((positions, out_channels))
            .is_ok()
        {
            if let Ok(matrix) = out.into_shape_with_order((positions, out_channels)) {
                return Target::Matrix(matrix);
            }
            unreachable!("the view was just reshaped")
        }
        Target::Image(out)
    }

    /// Where the block of positions from `p0` ends: `rows` on, or earlier
    /// at `positions` or (without the matrix view) at the end of the output
    /// row, `width` positions long.
    fn block_end(&self, p0: usize, rows: usize, positions: usize, width: usize) -> usize {
        let end = (p0 + rows).min(positions);
        match self {
            Target::Matrix(_) => end,
            Target::Image(_) => end.min((p0 / width + 1) * width),
        }
    }

    /// The output rows of positions `range` (inside one output row without
    /// the matrix view), of an output `height × width` per image.
    fn rows(
        &mut self,
        range: core::ops::Range<usize>,
        height: usize,
        width: usize,
    ) -> ArrayViewMut2<'_, f32> {
        match self {
            Target::Matrix(matrix) => matrix.slice_mut(s![range, ..]),
            Target::Image(image) => {
                let row = range.start / width;
                let x0 = range.start % width;
                let x1 = x0 + range.len();
                image.slice_mut(s![row / height, row % height, x0..x1, ..])
            }
        }
    }
}

/// The input pixels, as a slice when in standard layout.
enum Pixels<'a> {
    Slice {
        data: &'a [f32],
        /// Floats per input row (`w·c`) and per image (`h·w·c`).
        row: usize,
        image: usize,
    },
    View(ArrayView4<'a, f32>),
}

impl<'a> Pixels<'a> {
    fn new(input: ArrayView4<'a, f32>) -> Self {
        let (_, height, width, channels) = input.dim();
        match input.to_slice() {
            Some(data) => Pixels::Slice {
                data,
                row: width * channels,
                image: height * width * channels,
            },
            None => Pixels::View(input),
        }
    }

    /// Row `y` of image `b`, when the input is a slice.
    fn row(&self, b: usize, y: usize) -> Option<&'a [f32]> {
        match self {
            Pixels::Slice { data, row, image } => Some(&data[b * image + y * row..][..*row]),
            Pixels::View(_) => None,
        }
    }

    /// Fills `target` with the floats of image `b`, row `y`, from float
    /// `start` of that row on (row-major over columns and channels).
    fn copy(&self, b: usize, y: usize, start: usize, target: &mut [f32]) {
        match self {
            Pixels::Slice { data, row, image } => {
                let from = b * image + y * row + start;
                copy_floats(target, &data[from..from + target.len()]);
            }
            Pixels::View(view) => {
                let channels = view.dim().3;
                for (offset, value) in target.iter_mut().enumerate() {
                    let q = start + offset;
                    *value = view[[b, y, q / channels, q % channels]];
                }
            }
        }
    }
}

/// The patches of a convolution: row `p` of the im2col matrix holds, for
/// output position `p` (row-major over images, output rows and output
/// columns), the input values under each filter tap `(i, j)` and channel
/// `c` at column `(i·kw + j)·c_in + c`, 0 where the tap reads padding.
struct Patches<'a> {
    pixels: Pixels<'a>,
    rows: Geometry,
    cols: Geometry,
    kw: usize,
    channels: usize,
}

impl Patches<'_> {
    /// Writes columns `columns` of the rows of the im2col matrix from
    /// position `p0` on into `block`, one row of `columns.len()` floats per
    /// position, as many rows as `block` holds: for each output row the
    /// block covers, tap row by tap row (whose input row, or padding, is
    /// the same for every position of the output row). With padding, the
    /// block is zeroed first (one `memset`, cheaper than the many short
    /// fills beside the image's borders), and only the taps inside the
    /// image are written.
    fn gather(
        &self,
        block: &mut [f32],
        p0: usize,
        columns: core::ops::Range<usize>,
        row_scratch: &mut [f32],
    ) {
        let padded_len = self.padded_row_len();
        if padded_len <= row_scratch.len() {
            self.gather_padded(block, p0, columns, &mut row_scratch[..padded_len]);
            return;
        }
        if self.rows.padded || self.cols.padded {
            block.fill(0.0);
        }
        let (k0, k1) = (columns.start, columns.end);
        let width = self.cols.output;
        let height = self.rows.output;
        let tap_row = self.kw * self.channels;
        let (mut b, mut y, mut x0) = (p0 / (width * height), (p0 / width) % height, p0 % width);
        let mut rest = block;
        while !rest.is_empty() {
            let count = (width - x0).min(rest.len() / (k1 - k0));
            let (patches, after) = rest.split_at_mut(count * (k1 - k0));
            for i in k0 / tap_row..=(k1 - 1) / tap_row {
                // The columns of tap row i in this block.
                let row_start = i * tap_row;
                let seg0 = k0.max(row_start);
                let seg1 = k1.min(row_start + tap_row);
                match self.rows.source(y, i) {
                    None => {}
                    Some(source_y) => {
                        let source = Source {
                            pixels: &self.pixels,
                            b,
                            y: source_y,
                            row: self.pixels.row(b, source_y),
                        };
                        // Inside the image, away from its left and right
                        // borders, a whole tap row (undilated) is one run
                        // of the input row: copied without the geometry.
                        let whole = seg1 - seg0 == tap_row && self.cols.dilation == 1;
                        let inside = match source.row {
                            Some(_) if whole => self.cols.interior(),
                            _ => 0..0,
                        };
                        // Positions x0.. of this block, relative to x0.
                        let lo = inside.start.clamp(x0, x0 + count) - x0;
                        let hi = inside.end.clamp(x0, x0 + count) - x0;
                        let hi = hi.max(lo);
                        let kc = k1 - k0;
                        let (left, middle) = patches.split_at_mut(lo * kc);
                        let (middle, right) = middle.split_at_mut((hi - lo) * kc);
                        let offset = seg0 - k0;
                        let border = |x: usize, patch: &mut [f32]| {
                            let segment = &mut patch[offset..offset + (seg1 - seg0)];
                            self.tap_row(&source, x, row_start, seg0, segment);
                        };
                        for (x, patch) in (x0..).zip(left.chunks_exact_mut(kc)) {
                            border(x, patch);
                        }
                        if let (Some(row), false) = (source.row, middle.is_empty()) {
                            let step = self.cols.stride * self.channels;
                            let first = (x0 + lo) * step - self.cols.before * self.channels;
                            interior_runs(middle, kc, offset, tap_row, row, first, step);
                        }
                        for (x, patch) in (x0 + hi..).zip(right.chunks_exact_mut(kc)) {
                            border(x, patch);
                        }
                    }
                }
            }
            rest = after;
            x0 = 0;
            y += 1;
            if y == height {
                y = 0;
                b += 1;
            }
        }
    }

    /// Floats of an input row with its padding before and after, as far as
    /// the windows reach.
    fn padded_row_len(&self) -> usize {
        let cols = &self.cols;
        let reach = cols.output.saturating_sub(1) * cols.stride + (self.kw - 1) * cols.dilation + 1;
        reach.max(cols.before + cols.input) * self.channels
    }

    /// [`Patches::gather`] through `padded`, a copy of each input row that
    /// a tap row reads with zeros for its padding before and after
    /// (`padded_row_len` floats, all 0 on the first call, and only the
    /// input row's part ever written): every tap row is then one run of
    /// it (or one per tap, dilated), at `stride·c` floats per position,
    /// with no borders to treat apart.
    fn gather_padded(
        &self,
        block: &mut [f32],
        p0: usize,
        columns: core::ops::Range<usize>,
        padded: &mut [f32],
    ) {
        let (k0, k1) = (columns.start, columns.end);
        let kc = k1 - k0;
        let channels = self.channels;
        let width = self.cols.output;
        let height = self.rows.output;
        let tap_row = self.kw * channels;
        let tap_step = self.cols.dilation * channels;
        let step = self.cols.stride * channels;
        let before = self.cols.before * channels;
        let (mut b, mut y, mut x0) = (p0 / (width * height), (p0 / width) % height, p0 % width);
        let mut rest = block;
        while !rest.is_empty() {
            let count = (width - x0).min(rest.len() / kc);
            let (patches, after) = rest.split_at_mut(count * kc);
            for i in k0 / tap_row..=(k1 - 1) / tap_row {
                // The columns of tap row i in this block.
                let row_start = i * tap_row;
                let seg0 = k0.max(row_start);
                let seg1 = k1.min(row_start + tap_row);
                let Some(source_y) = self.rows.source(y, i) else {
                    // A tap row on padding: zeros.
                    for patch in patches.chunks_exact_mut(kc) {
                        patch[seg0 - k0..seg1 - k0].fill(0.0);
                    }
                    continue;
                };
                self.pixels.copy(
                    b,
                    source_y,
                    0,
                    &mut padded[before..before + self.cols.input * channels],
                );
                let first = x0 * step;
                if self.cols.dilation == 1 {
                    let len = seg1 - seg0;
                    let from = first + (seg0 - row_start);
                    interior_runs(patches, kc, seg0 - k0, len, padded, from, step);
                } else {
                    for j in (seg0 - row_start) / channels..=(seg1 - 1 - row_start) / channels {
                        let tap_start = row_start + j * channels;
                        let t0 = seg0.max(tap_start);
                        let t1 = seg1.min(tap_start + channels);
                        let from = first + j * tap_step + (t0 - tap_start);
                        interior_runs(patches, kc, t0 - k0, t1 - t0, padded, from, step);
                    }
                }
            }
            rest = after;
            x0 = 0;
            y += 1;
            if y == height {
                y = 0;
                b += 1;
            }
        }
    }

    /// Writes columns `seg0..seg0 + segment.len()` of the patch of output
    /// column `x`, all in the tap row starting at column `row_start`,
    /// whose input row is `source`.
    #[inline]
    fn tap_row(
        &self,
        source: &Source<'_, '_>,
        x: usize,
        row_start: usize,
        seg0: usize,
        segment: &mut [f32],
    ) {
        let channels = self.channels;
        let seg1 = seg0 + segment.len();
        if self.cols.dilation == 1 {
            // Tap j reads input column `lead + j − before`: the taps
            // inside the input read one run of the input row.
            let lead = x * self.cols.stride;
            let before = self.cols.before;
            let inside = |limit: usize| {
                let j = limit.saturating_sub(lead).min(self.kw);
                (row_start + j * channels).clamp(seg0, seg1)
            };
            let v0 = inside(before);
            let v1 = inside(self.cols.input + before).max(v0);
            let run = &mut segment[v0 - seg0..v1 - seg0];
            if !run.is_empty() {
                // Column `v` of the run reads float
                // `(lead − before)·c + (v − row_start)` of the input row,
                // which v ≥ v0 keeps non-negative.
                source.copy(lead * channels + (v0 - row_start) - before * channels, run);
            }
        } else {
            for j in (seg0 - row_start) / channels..=(seg1 - 1 - row_start) / channels {
                let tap_start = row_start + j * channels;
                let t0 = seg0.max(tap_start);
                let t1 = seg1.min(tap_start + channels);
                let part = &mut segment[t0 - seg0..t1 - seg0];
                if let Some(source_x) = self.cols.source(x, j) {
                    source.copy(source_x * channels + (t0 - tap_start), part);
                }
            }
        }
    }
}

/// One input row that a tap row reads.
struct Source<'p, 'a> {
    pixels: &'p Pixels<'a>,
    b: usize,
    y: usize,
    /// The row as a slice, when the input is one.
    row: Option<&'a [f32]>,
}

impl Source<'_, '_> {
    /// Fills `target` from float `start` of the row on.
    #[inline]
    fn copy(&self, start: usize, target: &mut [f32]) {
        match self.row {
            Some(row) => copy_floats(target, &row[start..start + target.len()]),
            None => self.pixels.copy(self.b, self.y, start, target),
        }
    }
}

/// Copies, into the `kc`-float patches of `patches`, from float `offset`
/// on, the run of `len` floats of `row` from `first`, `first + step`, …:
/// the whole tap rows of the positions whose taps all lie inside the
/// image. Short runs (a few taps of a few channels) are copied with their
/// length known at compile time.
fn interior_runs(
    patches: &mut [f32],
    kc: usize,
    offset: usize,
    len: usize,
    row: &[f32],
    first: usize,
    step: usize,
) {
    fn runs<const L: usize>(
        patches: &mut [f32],
        kc: usize,
        offset: usize,
        len: usize,
        row: &[f32],
        first: usize,
        step: usize,
    ) {
        let len = if L == 0 { len } else { L };
        for (patch, start) in patches.chunks_exact_mut(kc).zip((first..).step_by(step)) {
            copy_floats(&mut patch[offset..offset + len], &row[start..start + len]);
        }
    }
    let arguments = (patches, kc, offset, len, row, first, step);
    let run = match len {
        1 => runs::<1>,
        2 => runs::<2>,
        3 => runs::<3>,
        4 => runs::<4>,
        5 => runs::<5>,
        6 => runs::<6>,
        7 => runs::<7>,
        8 => runs::<8>,
        9 => runs::<9>,
        10 => runs::<10>,
        12 => runs::<12>,
        14 => runs::<14>,
        15 => runs::<15>,
        16 => runs::<16>,
        18 => runs::<18>,
        20 => runs::<20>,
        21 => runs::<21>,
        24 => runs::<24>,
        _ => runs::<0>,
    };
    run(
        arguments.0,
        arguments.1,
        arguments.2,
        arguments.3,
        arguments.4,
        arguments.5,
        arguments.6,
    );
}

/// `target.copy_from_slice(source)` by eight and then single floats: a tap
/// row is often a few floats long, for which the call to `memcpy` costs
/// more than the copy.
#[inline]
fn copy_floats(target: &mut [f32], source: &[f32]) {
    if target.len() >= 64 {
        target.copy_from_slice(source);
        return;
    }
    let mut targets = target.chunks_exact_mut(8);
    let mut sources = source.chunks_exact(8);
    for (target, source) in (&mut targets).zip(&mut sources) {
        target.copy_from_slice(source);
    }
    let (target, source) = (targets.into_remainder(), sources.remainder());
    let mut done = 0;
    if target.len() - done >= 4 {
        target[done..done + 4].copy_from_slice(&source[done..done + 4]);
        done += 4;
    }
    if target.len() - done >= 2 {
        target[done..done + 2].copy_from_slice(&source[done..done + 2]);
        done += 2;
    }
    if target.len() > done {
        target[done] = source[done];
    }
}

/// The convolution as it was first written: one small matrix product per
/// output row and filter tap, `[columns, in] × [in, out]`, accumulated
/// into `out`. Kept as the reference that tests and benchmarks compare
/// [`conv2d_into`] with.
///
/// # Panics
/// As [`conv2d_into`].
#[doc(hidden)]
#[track_caller]
pub fn conv2d_into_direct(
    input: ArrayView4<'_, f32>,
    filter: ArrayView4<'_, f32>,
    strides: (usize, usize),
    padding: Padding,
    dilations: (usize, usize),
    out: ArrayViewMut4<'_, f32>,
) {
    let (rows, cols) = check_conv(&input, &filter, strides, padding, dilations, &out);
    let identity = Epilogue {
        bias: None,
        activation: Activation::Identity,
    };
    direct(input, filter, rows, cols, out, identity);
}

/// [`conv2d_into_direct`] on checked operands, with `epilogue` applied to
/// each output row once its taps are summed.
fn direct(
    input: ArrayView4<'_, f32>,
    filter: ArrayView4<'_, f32>,
    rows: Geometry,
    cols: Geometry,
    mut out: ArrayViewMut4<'_, f32>,
    epilogue: Epilogue<'_>,
) {
    let kw = filter.dim().1;
    out.fill(0.0);
    for (image, mut result) in input.outer_iter().zip(out.outer_iter_mut()) {
        for (y, mut result_row) in result.outer_iter_mut().enumerate() {
            for (i, source_y) in rows.taps(y) {
                let source_row = image.index_axis(Axis(0), source_y);
                for j in 0..kw {
                    // The output columns whose tap j lands inside the
                    // input, and the input columns they read (`stride`
                    // apart): one [columns, in] × [in, out] product.
                    let Some((x0, x1, first)) = cols.span(j) else {
                        continue;
                    };
                    let pixels =
                        source_row.slice_axis(Axis(0), stepped(first, x1 - x0, cols.stride));
                    let taps = filter.index_axis(Axis(0), i).index_axis_move(Axis(0), j);
                    let target = result_row.slice_axis_mut(Axis(0), Slice::from(x0..x1));
                    product(
                        pixels,
                        taps,
                        None,
                        Activation::Identity,
                        target,
                        true,
                        Kernels::Simd,
                    );
                }
            }
            epilogue.apply(result_row);
        }
    }
}

/// `count` positions from `start`, `step` apart, as a slice of one axis.
#[allow(clippy::cast_possible_wrap)] // Positions inside a live view, below isize::MAX.
fn stepped(start: usize, count: usize, step: usize) -> Slice {
    let end = start + (count - 1) * step + 1;
    Slice::new(start as isize, Some(end as isize), step as isize)
}

/// Max pooling: `out[b, y, x, c] = max in[b, y·sh + i − pt, x·sw + j − pl, c]`
/// over the window positions `i < wh`, `j < ww` that fall inside the input
/// (padding never wins, as TensorFlow). A NaN in a window gives NaN.
///
/// `window` and `strides` are `(height, width)`.
///
/// # Panics
/// If a window size or stride is 0.
///
/// ```
/// use graph_runtime::kernels::conv::{max_pool2d, Padding};
/// use ndarray::Array4;
///
/// let image = Array4::from_shape_vec((1, 1, 3, 1), vec![1.0_f32, 5.0, 2.0]).unwrap();
/// let pooled = max_pool2d(image.view(), (1, 2), (1, 2), Padding::Same);
/// assert_eq!(pooled.into_raw_vec_and_offset().0, vec![5.0, 2.0]);
/// ```
#[track_caller]
#[must_use]
pub fn max_pool2d(
    input: ArrayView4<'_, f32>,
    window: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
) -> Array4<f32> {
    let mut out = Array4::zeros(pool_shape(input.dim(), window, strides, padding));
    max_pool2d_into(input, window, strides, padding, out.view_mut());
    out
}

/// Average pooling: the mean of each window over only the positions that
/// fall inside the input (padded positions are not counted, as TensorFlow):
/// `out[b, y, x, c] = (1/count)·Σ in[b, y·sh + i − pt, x·sw + j − pl, c]`.
///
/// `window` and `strides` are `(height, width)`.
///
/// # Panics
/// If a window size or stride is 0.
///
/// ```
/// use graph_runtime::kernels::conv::{avg_pool2d, Padding};
/// use ndarray::Array4;
///
/// let image = Array4::from_shape_vec((1, 1, 3, 1), vec![1.0_f32, 5.0, 2.0]).unwrap();
/// let pooled = avg_pool2d(image.view(), (1, 2), (1, 2), Padding::Same);
/// // The last window holds only the 2: the padding does not dilute it.
/// assert_eq!(pooled.into_raw_vec_and_offset().0, vec![3.0, 2.0]);
/// ```
#[track_caller]
#[must_use]
pub fn avg_pool2d(
    input: ArrayView4<'_, f32>,
    window: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
) -> Array4<f32> {
    let mut out = Array4::zeros(pool_shape(input.dim(), window, strides, padding));
    avg_pool2d_into(input, window, strides, padding, out.view_mut());
    out
}

/// [`max_pool2d`] into caller storage of the output's shape, with no
/// allocation.
///
/// # Panics
/// As [`max_pool2d`], and if `out` is not
/// `[batch, out_height, out_width, channels]`.
///
/// ```
/// use graph_runtime::kernels::conv::{max_pool2d_into, Padding};
/// use ndarray::Array4;
///
/// let image = Array4::from_shape_vec((1, 1, 3, 1), vec![1.0_f32, 5.0, 2.0]).unwrap();
/// let mut out = Array4::zeros((1, 1, 2, 1));
/// max_pool2d_into(image.view(), (1, 2), (1, 2), Padding::Same, out.view_mut());
/// assert_eq!(out.into_raw_vec_and_offset().0, vec![5.0, 2.0]);
/// ```
#[track_caller]
pub fn max_pool2d_into(
    input: ArrayView4<'_, f32>,
    window: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
    out: ArrayViewMut4<'_, f32>,
) {
    pool_into::<true>("max_pool2d", input, window, strides, padding, out);
}

/// [`avg_pool2d`] into caller storage of the output's shape, with no
/// allocation.
///
/// # Panics
/// As [`avg_pool2d`], and if `out` is not
/// `[batch, out_height, out_width, channels]`.
///
/// ```
/// use graph_runtime::kernels::conv::{avg_pool2d_into, Padding};
/// use ndarray::Array4;
///
/// let image = Array4::from_shape_vec((1, 1, 3, 1), vec![1.0_f32, 5.0, 2.0]).unwrap();
/// let mut out = Array4::zeros((1, 1, 2, 1));
/// avg_pool2d_into(image.view(), (1, 2), (1, 2), Padding::Same, out.view_mut());
/// assert_eq!(out.into_raw_vec_and_offset().0, vec![3.0, 2.0]);
/// ```
#[track_caller]
pub fn avg_pool2d_into(
    input: ArrayView4<'_, f32>,
    window: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
    out: ArrayViewMut4<'_, f32>,
) {
    pool_into::<false>("avg_pool2d", input, window, strides, padding, out);
}

/// The output shape of a pool, or an empty one when a window size or
/// stride is 0 (for `pool_into` to report).
fn pool_shape(
    (batch, height, width, channels): (usize, usize, usize, usize),
    window: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
) -> (usize, usize, usize, usize) {
    if [window.0, window.1, strides.0, strides.1].contains(&0) {
        return (batch, 0, 0, channels);
    }
    (
        batch,
        conv_output_size(height, window.0, strides.0, 1, padding),
        conv_output_size(width, window.1, strides.1, 1, padding),
        channels,
    )
}

/// Where one output position's window lands along one spatial axis.
#[derive(Clone, Copy)]
struct Geometry {
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    before: usize,
    output: usize,
    /// Whether some window reaches into the padding (before or after).
    padded: bool,
}

impl Geometry {
    fn new(input: usize, kernel: usize, stride: usize, dilation: usize, padding: Padding) -> Self {
        let (before, after) = conv_padding(input, kernel, stride, dilation, padding);
        Geometry {
            input,
            kernel,
            stride,
            dilation,
            before,
            output: conv_output_size(input, kernel, stride, dilation, padding),
            padded: before + after > 0,
        }
    }

    /// For tap `tap`: the output positions `x0..x1` at which it lands inside
    /// the input, and the input position of the first (the others follow
    /// `stride` apart); `None` if there are none.
    fn span(&self, tap: usize) -> Option<(usize, usize, usize)> {
        let offset = tap * self.dilation;
        // Output x reads input x·stride + offset − before, which must lie
        // in 0..input.
        let x0 = self.before.saturating_sub(offset).div_ceil(self.stride);
        let limit = self.input + self.before;
        if limit <= offset {
            return None;
        }
        let x1 = ((limit - offset - 1) / self.stride + 1).min(self.output);
        (x0 < x1).then(|| (x0, x1, x0 * self.stride + offset - self.before))
    }

    /// The output positions whose every tap lands inside the input.
    fn interior(&self) -> core::ops::Range<usize> {
        let span = (self.kernel - 1) * self.dilation + 1;
        let first = self.before.div_ceil(self.stride);
        let end = match (self.input + self.before).checked_sub(span) {
            Some(last) => (last / self.stride + 1).min(self.output),
            None => 0,
        };
        first..end.max(first)
    }

    /// The input positions that the window of output position `out`
    /// covers, for a dilation of 1.
    fn covered(&self, out: usize) -> core::ops::Range<usize> {
        let start = out * self.stride;
        start.saturating_sub(self.before)
            ..(start + self.kernel)
                .saturating_sub(self.before)
                .min(self.input)
    }

    /// The input position that tap `tap` of output position `out` reads,
    /// `None` if it reads padding.
    fn source(&self, out: usize, tap: usize) -> Option<usize> {
        let position = (out * self.stride + tap * self.dilation).checked_sub(self.before)?;
        (position < self.input).then_some(position)
    }

    /// `(tap, input position)` for the taps of output position `out` that
    /// fall inside the input; the others read padding.
    fn taps(&self, out: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.kernel).filter_map(move |tap| {
            let padded = out * self.stride + tap * self.dilation;
            let position = padded.checked_sub(self.before)?;
            (position < self.input).then_some((tap, position))
        })
    }
}

/// Slides a window over every image and channel: for each output pixel,
/// each channel starts at [`Fold::INIT`], takes in the value of each window
/// position inside the input by [`Fold::value`], in row-major window
/// order, and (for the average) ends by [`Fold::finish`] with the number
/// of those positions. `MAX` chooses max pooling, else average pooling.
///
/// Operands in standard layout are read as slices, a contiguous lane of
/// channels per window position (plain loops, which vectorise); others
/// through views.
#[track_caller]
fn pool_into<const MAX: bool>(
    kernel: &str,
    input: ArrayView4<'_, f32>,
    window: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
    mut out: ArrayViewMut4<'_, f32>,
) {
    let parameters = [window.0, window.1, strides.0, strides.1];
    if parameters.contains(&0) {
        shape_panic(kernel, &[input.shape(), &parameters[..2], &parameters[2..]]);
    }
    let (batch, height, width, channels) = input.dim();
    let rows = Geometry::new(height, window.0, strides.0, 1, padding);
    let cols = Geometry::new(width, window.1, strides.1, 1, padding);
    if out.dim() != (batch, rows.output, cols.output, channels) {
        shape_panic(
            kernel,
            &[
                input.shape(),
                &parameters[..2],
                &parameters[2..],
                out.shape(),
            ],
        );
    }
    if let (Some(pixels), Some(pooled)) = (input.to_slice(), out.as_slice_mut()) {
        if pooled.is_empty() {
            return;
        }
        let image_len = height * width * channels;
        let row_len = width * channels;
        let taps_len = window.0 * window.1;
        if !rows.padded && !cols.padded && channels >= PIXEL_CHANNELS && taps_len <= POOL_TAPS {
            let geometry = Unpadded {
                input: (height, width, channels),
                output: (rows.output, cols.output),
                window,
                strides,
            };
            pool_unpadded::<MAX>(pixels, pooled, batch, &geometry);
            return;
        }
        let mut scratch = [0.0_f32; POOL_SCRATCH];
        let plan = RowPlan::new(&cols, channels, scratch.len());
        let mut results = pooled.chunks_exact_mut(cols.output * channels);
        for image in pixels.chunks_exact(image_len.max(1)).take(batch) {
            for y in 0..rows.output {
                let Some(acc) = results.next() else {
                    unreachable!("`out` holds a row per output row")
                };
                let covered_rows = rows.covered(y);
                let sources = covered_rows
                    .clone()
                    .map(|source_y| &image[source_y * row_len..][..row_len]);
                pool_row::<MAX>(acc, sources, &plan, &mut scratch);
                if MAX {
                    continue;
                }
                // A window always overlaps the input (padding before is
                // less than the window), so the count is at least 1.
                for (x, pixel) in acc.chunks_exact_mut(channels).enumerate() {
                    let count = covered_rows.len() * cols.covered(x).len();
                    for a in pixel {
                        *a = Fold::<MAX>::finish(*a, count);
                    }
                }
            }
        }
        return;
    }
    for (image, mut result) in input.outer_iter().zip(out.outer_iter_mut()) {
        for (y, mut result_row) in result.outer_iter_mut().enumerate() {
            for (x, mut acc) in result_row.outer_iter_mut().enumerate() {
                acc.fill(Fold::<MAX>::INIT);
                let mut count = 0;
                for (_, source_y) in rows.taps(y) {
                    let source_row = image.index_axis(Axis(0), source_y);
                    for (_, source_x) in cols.taps(x) {
                        Zip::from(&mut acc)
                            .and(&source_row.index_axis(Axis(0), source_x))
                            .for_each(|a, &v| *a = Fold::<MAX>::value(*a, v));
                        count += 1;
                    }
                }
                if !MAX {
                    acc.mapv_inplace(|a| Fold::<MAX>::finish(a, count));
                }
            }
        }
    }
}

/// Where the windows of a pool without padding lie: the input's height,
/// width and channels, the output's height and width, the window and the
/// strides (each `(height, width)`).
struct Unpadded {
    input: (usize, usize, usize),
    output: (usize, usize),
    window: (usize, usize),
    strides: (usize, usize),
}

/// A pool over slices whose windows never reach into padding (so every
/// window counts all its taps, and the average divides by the window's
/// size), with at least [`PIXEL_CHANNELS`] channels and at most
/// [`POOL_TAPS`] taps: each output row is one run of pixels for
/// [`Fold::pixels`], whose taps are the image's floats from the row's
/// first window on.
fn pool_unpadded<const MAX: bool>(
    pixels: &[f32],
    pooled: &mut [f32],
    batch: usize,
    geometry: &Unpadded,
) {
    let (height, width, channels) = geometry.input;
    let (out_height, out_width) = geometry.output;
    let (window, strides) = (geometry.window, geometry.strides);
    let row_len = width * channels;
    let out_row = out_width * channels;
    let taps_len = window.0 * window.1;
    let images = pixels.chunks_exact((height * row_len).max(1)).take(batch);
    for (image, first) in images.zip((0..).step_by(out_height)) {
        let mut taps = [&[][..]; POOL_TAPS];
        for (t, tap) in taps.iter_mut().take(taps_len).enumerate() {
            *tap = &image[(t / window.1) * row_len + (t % window.1) * channels..];
        }
        for y in 0..out_height {
            let mut row_taps = taps;
            for tap in row_taps.iter_mut().take(taps_len) {
                *tap = &tap[y * strides.0 * row_len..];
            }
            // The rest of the output from this row on: the row's last
            // vector may land on the next row, which is written next.
            let rest = &mut pooled[(first + y) * out_row..];
            let (step, runs) = (strides.1 * channels, &row_taps[..taps_len]);
            Fold::<MAX>::pixels(rest, out_width, runs, step, channels);
            if !MAX {
                for a in &mut rest[..out_row] {
                    *a = Fold::<MAX>::finish(*a, taps_len);
                }
            }
        }
    }
}

/// Floats of stack scratch for a pool's running folds along a run of
/// output pixels (8 KiB).
const POOL_SCRATCH: usize = 2048;

/// One output row of a pool over slices, before the average's finish: for
/// each pixel, [`Fold::INIT`] folded with every window position inside the input (`sources`
/// are the input rows the windows cover, in order), in row-major window
/// order, a lane of `channels` floats at a time.
///
/// Pixels whose window reaches into the padding (at the borders) are
/// folded one by one. The others go by groups: each window tap is folded,
/// over the whole run of input floats that the group's windows span, into
/// `scratch` (one contiguous loop, which vectorises, where pixel by pixel
/// the loops would be a few channels long); each pixel then takes its lane
/// from where its window starts (the floats between, with strides wider
/// than one pixel, are folded for nothing).
fn pool_row<'a, const MAX: bool>(
    acc: &mut [f32],
    sources: impl Iterator<Item = &'a [f32]> + Clone,
    plan: &RowPlan<'_>,
    scratch: &mut [f32],
) {
    let (cols, c) = (plan.cols, plan.channels);
    let one_by_one = |x: usize, pixel: &mut [f32]| {
        pixel.fill(Fold::<MAX>::INIT);
        for row in sources.clone() {
            for source_x in cols.covered(x) {
                Fold::<MAX>::run(pixel, &row[source_x * c..]);
            }
        }
    };
    let interior = plan.interior.clone();
    for x in 0..interior.start {
        one_by_one(x, &mut acc[x * c..][..c]);
    }
    // The pixels after the interior come last: folding the interior
    // pixel by pixel may store over them.
    let right = interior.end..cols.output;
    if plan.group == 0 {
        for x in interior.start..cols.output {
            one_by_one(x, &mut acc[x * c..][..c]);
        }
        return;
    }
    let step = cols.stride * c;
    let window = sources.clone().count() * cols.kernel;
    let mut x0 = interior.start;
    while x0 < interior.end {
        let x1 = (x0 + plan.group).min(interior.end);
        let folded = &mut scratch[..(x1 - 1 - x0) * step + c];
        // Interior windows start inside the input, and end inside it.
        let start = (x0 * cols.stride - cols.before) * c;
        let taps = sources
            .clone()
            .flat_map(|row| (0..cols.kernel).map(move |j| &row[start + j * c..]));
        if window <= POOL_TAPS {
            let mut runs = [&[][..]; POOL_TAPS];
            for (slot, tap) in runs.iter_mut().zip(taps) {
                *slot = tap;
            }
            let runs = &runs[..window];
            if c >= PIXEL_CHANNELS {
                // Pixel by pixel, straight into `acc`: a pixel's channels
                // fill (most of) a vector. (The pixels after x1, which the
                // last vector may cover, come later.)
                Fold::<MAX>::pixels(&mut acc[x0 * c..], x1 - x0, runs, step, c);
                x0 = x1;
                continue;
            }
            // Every tap at once, in one pass over `folded`.
            Fold::<MAX>::taps(folded, runs);
        } else {
            folded.fill(Fold::<MAX>::INIT);
            for tap in taps {
                Fold::<MAX>::run(folded, tap);
            }
        }
        let pixels = acc[x0 * c..x1 * c].chunks_exact_mut(c);
        for (pixel, from) in pixels.zip((0..).step_by(step)) {
            copy_floats(pixel, &folded[from..from + c]);
        }
        x0 = x1;
    }
    for x in right {
        one_by_one(x, &mut acc[x * c..][..c]);
    }
}

/// Fewest channels for [`pool_row`] to fold pixel by pixel (at least half
/// a vector's lanes busy) rather than over runs spanning several pixels.
const PIXEL_CHANNELS: usize = 4;

/// Most taps per window that [`pool_row`] folds in one pass (a 4 × 4
/// window); larger windows fold tap by tap.
const POOL_TAPS: usize = 16;

/// What [`pool_row`] needs of the columns, the same for every row.
struct RowPlan<'g> {
    cols: &'g Geometry,
    channels: usize,
    /// The output columns whose windows lie inside the input.
    interior: core::ops::Range<usize>,
    /// Interior pixels whose windows' runs fit in the scratch together (0
    /// when not even one pixel's does).
    group: usize,
}

impl<'g> RowPlan<'g> {
    fn new(cols: &'g Geometry, channels: usize, scratch: usize) -> Self {
        let step = cols.stride * channels;
        RowPlan {
            cols,
            channels,
            interior: cols.interior(),
            group: scratch
                .checked_sub(channels)
                .map_or(0, |room| room / step + 1),
        }
    }
}

/// The arithmetic of max pooling (`MAX`) and average pooling: where each
/// window's fold starts, how it takes in one value, a run of values, all
/// the taps of a window over a run, or the windows of a run of pixels (the
/// last three on AVX2 where the CPU has it, with the same results), and
/// how the average ends.
struct Fold<const MAX: bool>;

impl<const MAX: bool> Fold<MAX> {
    /// Where each window's fold starts.
    const INIT: f32 = if MAX { f32::NEG_INFINITY } else { 0.0 };

    /// `acc` with `v` taken in: `nan_max` (NaN wins from either side, else
    /// the larger, `acc` on ties), or the sum.
    fn value(acc: f32, v: f32) -> f32 {
        if MAX {
            nan_max(acc, v)
        } else {
            acc + v
        }
    }

    /// The average of a window's `count` values, from their sum.
    fn finish(total: f32, count: usize) -> f32 {
        total / count as f32
    }

    /// `acc[i] = value(acc[i], source[i])` over `acc` (`source` at least
    /// as long): the fold of one window tap over a run.
    fn run(acc: &mut [f32], source: &[f32]) {
        #[cfg(target_arch = "x86_64")]
        {
            let simd = if MAX {
                super::simd::max_run
            } else {
                super::simd::add_run
            };
            if simd(acc, source) {
                return;
            }
        }
        let source = &source[..acc.len()];
        for (a, &v) in acc.iter_mut().zip(source) {
            *a = Self::value(*a, v);
        }
    }

    /// `acc[i]` = [`Self::INIT`] folded with `taps[0][i]`, `taps[1][i]`, …
    /// in turn (each tap at least as long as `acc`): the fold of a
    /// window's taps over a run.
    fn taps(acc: &mut [f32], taps: &[&[f32]]) {
        #[cfg(target_arch = "x86_64")]
        if super::simd::fold_taps::<MAX>(acc, taps) {
            return;
        }
        acc.fill(Self::INIT);
        for tap in taps {
            Self::run(acc, tap);
        }
    }

    /// The fold over a run of `count` pixels, `channels` floats each:
    /// `out[x·channels + c]` = [`Self::INIT`] folded with
    /// `taps[t][x·step + c]` for each tap in turn (on AVX2 this may
    /// overwrite floats of `out` past the run's: see `simd::fold_pixels`).
    fn pixels(out: &mut [f32], count: usize, taps: &[&[f32]], step: usize, channels: usize) {
        #[cfg(target_arch = "x86_64")]
        if super::simd::fold_pixels::<MAX>(out, count, taps, step, channels) {
            return;
        }
        let out = &mut out[..count * channels];
        for (pixel, from) in out.chunks_exact_mut(channels).zip((0..).step_by(step)) {
            pixel.fill(Self::INIT);
            for tap in taps {
                for (a, &v) in pixel.iter_mut().zip(&tap[from..from + channels]) {
                    *a = Self::value(*a, v);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // Expected values are exact by construction.
mod tests {
    use super::*;
    use ndarray::Array4;

    #[test]
    fn size_rules_match_tensorflow_tables() {
        // (input, kernel, stride, dilation) -> (valid out, same out, same padding)
        let cases = [
            ((5, 2, 1, 1), (4, 5, (0, 1))),
            ((5, 4, 1, 1), (2, 5, (1, 2))),
            ((6, 2, 2, 1), (3, 3, (0, 0))),
            ((7, 2, 2, 1), (3, 4, (0, 1))),
            ((8, 4, 2, 1), (3, 4, (1, 1))),
            ((7, 3, 1, 2), (3, 7, (2, 2))),
            ((1, 3, 2, 1), (0, 1, (1, 1))),
            ((0, 3, 1, 1), (0, 0, (0, 0))),
        ];
        for ((input, kernel, stride, dilation), (valid, same, pads)) in cases {
            let case = (input, kernel, stride, dilation);
            assert_eq!(
                conv_output_size(input, kernel, stride, dilation, Padding::Valid),
                valid,
                "{case:?}"
            );
            assert_eq!(
                conv_output_size(input, kernel, stride, dilation, Padding::Same),
                same,
                "{case:?}"
            );
            assert_eq!(
                conv_padding(input, kernel, stride, dilation, Padding::Same),
                pads,
                "{case:?}"
            );
            assert_eq!(
                conv_padding(input, kernel, stride, dilation, Padding::Valid),
                (0, 0)
            );
        }
    }

    #[test]
    fn conv_by_hand_with_stride_and_padding() {
        // 3x3 image 1..9, 2x2 filter [[1, 0], [0, -1]], stride 2, SAME:
        // out 2x2, padding (0, 1) per axis. Window (0,0): 1 - 5 = -4;
        // (0,1): 3 - 0 = 3; (1,0): 7 - 0 = 7; (1,1): 9 - 0 = 9.
        let image = Array4::from_shape_fn((1, 3, 3, 1), |(_, y, x, _)| (y * 3 + x + 1) as f32);
        let filter = Array4::from_shape_vec((2, 2, 1, 1), vec![1.0_f32, 0.0, 0.0, -1.0]).unwrap();
        let out = conv2d(image.view(), filter.view(), (2, 2), Padding::Same, (1, 1));
        assert_eq!(out.into_raw_vec_and_offset().0, vec![-4.0, 3.0, 7.0, 9.0]);
    }

    #[test]
    fn pools_by_hand() {
        // 4x4 image 0..16, 3x3 window, stride 2, SAME: out 2x2, padding
        // (0, 1). Windows: rows 0-2 x cols 0-2, rows 0-2 x cols 2-3, ...
        let image = Array4::from_shape_fn((1, 4, 4, 1), |(_, y, x, _)| (y * 4 + x) as f32);
        let max = max_pool2d(image.view(), (3, 3), (2, 2), Padding::Same);
        assert_eq!(
            max.into_raw_vec_and_offset().0,
            vec![10.0, 11.0, 14.0, 15.0]
        );
        let avg = avg_pool2d(image.view(), (3, 3), (2, 2), Padding::Same);
        // Means of {0,1,2,4,5,6,8,9,10}, {2,3,6,7,10,11}, {8,9,10,12,13,14}, {10,11,14,15}.
        assert_eq!(avg.into_raw_vec_and_offset().0, vec![5.0, 6.5, 11.0, 12.5]);
    }

    #[test]
    fn empty_outputs() {
        let image = Array4::<f32>::zeros((2, 1, 1, 3));
        let filter = Array4::<f32>::zeros((2, 2, 3, 4));
        assert_eq!(
            conv2d(image.view(), filter.view(), (1, 1), Padding::Valid, (1, 1)).shape(),
            &[2, 0, 0, 4]
        );
        let none = Array4::<f32>::zeros((0, 3, 3, 3));
        assert_eq!(
            max_pool2d(none.view(), (2, 2), (1, 1), Padding::Same).shape(),
            &[0, 3, 3, 3]
        );
    }

    /// Both pools by their definition, in plain loops over the window
    /// positions inside the input: the maximum (NaN if the window holds
    /// one) and the mean.
    fn pool_reference(
        input: &Array4<f32>,
        window: (usize, usize),
        strides: (usize, usize),
        padding: Padding,
    ) -> (Array4<f32>, Array4<f32>) {
        let (n, h, w, c) = input.dim();
        let out_h = conv_output_size(h, window.0, strides.0, 1, padding);
        let out_w = conv_output_size(w, window.1, strides.1, 1, padding);
        let top = conv_padding(h, window.0, strides.0, 1, padding).0;
        let left = conv_padding(w, window.1, strides.1, 1, padding).0;
        let values = |(b, y, x, k): (usize, usize, usize, usize)| {
            let mut inside = Vec::new();
            for i in 0..window.0 {
                for j in 0..window.1 {
                    let iy = (y * strides.0 + i).checked_sub(top).filter(|&iy| iy < h);
                    let ix = (x * strides.1 + j).checked_sub(left).filter(|&ix| ix < w);
                    if let (Some(iy), Some(ix)) = (iy, ix) {
                        inside.push(input[[b, iy, ix, k]]);
                    }
                }
            }
            inside
        };
        let max = Array4::from_shape_fn((n, out_h, out_w, c), |at| {
            let inside = values(at);
            if inside.iter().any(|v| v.is_nan()) {
                f32::NAN
            } else {
                inside.into_iter().fold(f32::NEG_INFINITY, f32::max)
            }
        });
        let mean = Array4::from_shape_fn((n, out_h, out_w, c), |at| {
            let inside = values(at);
            #[allow(clippy::cast_precision_loss)] // A few window positions.
            let count = inside.len() as f32;
            inside.into_iter().sum::<f32>() / count
        });
        (max, mean)
    }

    #[test]
    fn pools_match_their_definition() {
        let mut next = spread(4);
        let geometries = [
            ((2, 2), (2, 2), Padding::Valid),
            ((2, 2), (2, 2), Padding::Same),
            ((3, 3), (2, 2), Padding::Same),
            ((3, 2), (1, 1), Padding::Same),
            ((2, 3), (1, 3), Padding::Valid),
            ((3, 3), (3, 2), Padding::Same),
        ];
        // Wide rows of pixels (their interior folded in several groups) and
        // wide pixels (wider than the scratch, folded one by one).
        for (shape, window, strides) in [
            ((1, 3, 300, 16), (2, 3), (1, 1)),
            ((1, 3, 200, 5), (3, 2), (1, 2)),
            ((1, 2, 3, POOL_SCRATCH + 2), (2, 2), (1, 1)),
        ] {
            let image = Array4::from_shape_simple_fn(shape, &mut next);
            for padding in [Padding::Valid, Padding::Same] {
                let (max_want, mean_want) = pool_reference(&image, window, strides, padding);
                let max = max_pool2d(image.view(), window, strides, padding);
                let mean = avg_pool2d(image.view(), window, strides, padding);
                assert_eq!(max, max_want, "{shape:?}");
                for (&m, &m_want) in mean.iter().zip(&mean_want) {
                    assert!(
                        (m - m_want).abs() <= 1e-6,
                        "{shape:?}: {m} against {m_want}"
                    );
                }
            }
        }
        for channels in [1, 3, 6, 16, 17] {
            let mut image = Array4::from_shape_simple_fn((2, 7, 9, channels), &mut next);
            image[[1, 3, 4, channels - 1]] = f32::NAN;
            image[[0, 0, 8, 0]] = f32::NAN;
            for (window, strides, padding) in geometries {
                let case = (channels, window, strides, padding);
                let (max_want, mean_want) = pool_reference(&image, window, strides, padding);
                let max = max_pool2d(image.view(), window, strides, padding);
                let mean = avg_pool2d(image.view(), window, strides, padding);
                assert_eq!(max.dim(), max_want.dim(), "{case:?}");
                for ((&got, &want), (&m, &m_want)) in
                    max.iter().zip(&max_want).zip(mean.iter().zip(&mean_want))
                {
                    if want.is_nan() {
                        assert!(got.is_nan() && m.is_nan(), "{case:?}: {got}, {m}");
                    } else {
                        assert_eq!(got, want, "{case:?}");
                        assert!((m - m_want).abs() <= 1e-6, "{case:?}: {m} against {m_want}");
                    }
                }
                // The strided path (views) agrees with the slice path.
                let mut strided =
                    Array4::from_elem((max.dim().0, max.dim().1, max.dim().2, channels + 1), 0.0);
                max_pool2d_into(
                    image.view(),
                    window,
                    strides,
                    padding,
                    strided.slice_mut(s![.., .., .., ..channels]),
                );
                for (&got, &want) in strided.slice(s![.., .., .., ..channels]).iter().zip(&max) {
                    assert!(got == want || (got.is_nan() && want.is_nan()), "{case:?}");
                }
            }
        }
    }

    #[test]
    fn max_pool_keeps_nan() {
        let image = Array4::from_shape_vec((1, 1, 2, 1), vec![f32::NAN, 1.0]).unwrap();
        assert!(max_pool2d(image.view(), (1, 2), (1, 1), Padding::Valid)[[0, 0, 0, 0]].is_nan());
    }

    /// A deterministic spread of values in about [−1, 1], some negative
    /// sums among them (for the relu to cut).
    fn spread(seed: usize) -> impl FnMut() -> f32 {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(12_345);
        move || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345) % (1 << 31);
            #[allow(clippy::cast_precision_loss)] // Small integers.
            let unit = (state % 2001) as f32 / 1000.0;
            unit - 1.0
        }
    }

    /// The fused convolution by its definition, in plain loops: each sum
    /// over the taps that land inside the image (taps on padding skipped),
    /// plus the bias, through relu (NaN kept).
    #[allow(clippy::many_single_char_names)]
    fn reference(
        input: &Array4<f32>,
        filter: &Array4<f32>,
        bias: Option<&ndarray::Array1<f32>>,
        relu: bool,
        strides: (usize, usize),
        padding: Padding,
    ) -> Array4<f32> {
        let (n, h, w, c) = input.dim();
        let (kh, kw, _, o) = filter.dim();
        let out_h = conv_output_size(h, kh, strides.0, 1, padding);
        let out_w = conv_output_size(w, kw, strides.1, 1, padding);
        let top = conv_padding(h, kh, strides.0, 1, padding).0;
        let left = conv_padding(w, kw, strides.1, 1, padding).0;
        Array4::from_shape_fn((n, out_h, out_w, o), |(b, y, x, k)| {
            let mut sum = 0.0_f32;
            for i in 0..kh {
                for j in 0..kw {
                    let iy = (y * strides.0 + i).checked_sub(top).filter(|&iy| iy < h);
                    let ix = (x * strides.1 + j).checked_sub(left).filter(|&ix| ix < w);
                    let (Some(iy), Some(ix)) = (iy, ix) else {
                        continue;
                    };
                    for ch in 0..c {
                        sum += input[[b, iy, ix, ch]] * filter[[i, j, ch, k]];
                    }
                }
            }
            let v = sum + bias.map_or(0.0, |bias| bias[k]);
            if relu && v < 0.0 {
                0.0
            } else {
                v
            }
        })
    }

    /// `conv2d_fused_into` with relu (and a bias when given) against the
    /// reference, to rounding, NaN where it has NaN.
    fn check_fused(
        input: &Array4<f32>,
        filter: &Array4<f32>,
        bias: Option<&ndarray::Array1<f32>>,
        strides: (usize, usize),
        padding: Padding,
    ) {
        let want = reference(input, filter, bias, true, strides, padding);
        let mut got = Array4::from_elem(want.dim(), f32::NAN);
        conv2d_fused_into(
            input.view(),
            filter.view(),
            bias.map(|bias| bias.view()),
            Activation::Relu,
            strides,
            padding,
            (1, 1),
            got.view_mut(),
        );
        let mut cut = 0;
        for ((index, &g), &w) in got.indexed_iter().zip(&want) {
            if w.is_nan() {
                assert!(g.is_nan(), "{index:?}: {g} against NaN");
                continue;
            }
            assert!(
                (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "{index:?}: {g} against {w}"
            );
            cut += usize::from(w == 0.0);
        }
        assert!(
            cut > 0 && cut < want.len(),
            "relu cuts some outputs, not all"
        );
    }

    #[test]
    fn fused_epilogue_matches_conv_then_bias_then_relu() {
        let mut next = spread(1);
        // LeNet's first layer: 5×5, one channel in, six out, same padding.
        let image = Array4::from_shape_simple_fn((2, 9, 8, 1), &mut next);
        let filter = Array4::from_shape_simple_fn((5, 5, 1, 6), &mut next);
        let bias = ndarray::Array1::from_shape_simple_fn(6, &mut next);
        check_fused(&image, &filter, Some(&bias), (1, 1), Padding::Same);
        check_fused(&image, &filter, None, (2, 1), Padding::Valid);
        // A 1×1 filter: the product of the pixels with the one tap.
        let image = Array4::from_shape_simple_fn((2, 3, 3, 4), &mut next);
        let filter = Array4::from_shape_simple_fn((1, 1, 4, 5), &mut next);
        let bias = ndarray::Array1::from_shape_simple_fn(5, &mut next);
        check_fused(&image, &filter, Some(&bias), (1, 1), Padding::Same);
    }

    /// The planes' path (few output channels) with each kind of epilogue:
    /// none, a bias, activations applied in registers and after them, on
    /// strips that end inside an output row.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn planes_apply_every_epilogue() {
        let mut next = spread(3);
        let image = Array4::from_shape_simple_fn((2, 5, 21, 2), &mut next);
        let activations = [
            Activation::Identity,
            Activation::Relu,
            Activation::LeakyRelu(0.25),
            Activation::Sigmoid,
            Activation::GeluExact,
        ];
        for out_channels in 1..=6 {
            let filter = Array4::from_shape_simple_fn((3, 4, 2, out_channels), &mut next);
            let bias = ndarray::Array1::from_shape_simple_fn(out_channels, &mut next);
            let shape = (2, 5, 21, out_channels);
            let mut plain = Array4::zeros(shape);
            let (strides, padding, dilations) = ((1, 1), Padding::Same, (1, 1));
            conv2d_into_direct(
                image.view(),
                filter.view(),
                strides,
                padding,
                dilations,
                plain.view_mut(),
            );
            for activation in activations {
                for bias in [None, Some(bias.view())] {
                    let mut want = plain.clone();
                    for mut pixel in want.rows_mut() {
                        for (o, v) in pixel.iter_mut().enumerate() {
                            let sum = *v + bias.as_ref().map_or(0.0, |b| b[o]);
                            *v = activation.apply(sum);
                        }
                    }
                    let (rows, cols) = check_conv(
                        &image.view(),
                        &filter.view(),
                        strides,
                        padding,
                        dilations,
                        &Array4::zeros(shape).view_mut(),
                    );
                    let mut got = Array4::from_elem(shape, f32::NAN);
                    let epilogue = Epilogue { bias, activation };
                    let ran = planar(
                        image.view(),
                        filter.view(),
                        rows,
                        cols,
                        &mut got.view_mut(),
                        &epilogue,
                    );
                    assert_eq!(ran, super::super::simd::available());
                    if !ran {
                        return;
                    }
                    let case = (out_channels, activation, epilogue.bias.is_some());
                    for (&g, &w) in got.iter().zip(&want) {
                        assert!(
                            (g - w).abs() <= 1e-5 * (1.0 + w.abs()),
                            "{case:?}: {g} against {w}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn fused_epilogue_applies_once_over_split_patches() {
        // 3×3 taps of 32 channels: 288-float patches, gathered and
        // multiplied in blocks of columns whose products accumulate.
        let mut next = spread(2);
        let image = Array4::from_shape_simple_fn((2, 6, 7, 32), &mut next);
        let filter = Array4::from_shape_simple_fn((3, 3, 32, 10), &mut next);
        let bias = ndarray::Array1::from_shape_simple_fn(10, || next() * 4.0);
        const { assert!(3 * 3 * 32 > PATCH_SCRATCH / MIN_BLOCK_ROWS) };
        check_fused(&image, &filter, Some(&bias), (1, 1), Padding::Same);
        check_fused(&image, &filter, Some(&bias), (2, 2), Padding::Valid);
        // An input in another layout and an output that is no matrix of
        // pixels (a column of a wider array): the views' paths.
        let channels_first = image
            .view()
            .permuted_axes([3, 0, 1, 2])
            .as_standard_layout()
            .into_owned();
        let image_t = channels_first.view().permuted_axes([1, 2, 3, 0]);
        assert!(image_t.to_slice().is_none());
        let want = reference(&image, &filter, Some(&bias), true, (1, 1), Padding::Same);
        let mut wide = Array4::from_elem((2, 6, 9, 10), f32::NAN);
        conv2d_fused_into(
            image_t,
            filter.view(),
            Some(bias.view()),
            Activation::Relu,
            (1, 1),
            Padding::Same,
            (1, 1),
            wide.slice_mut(s![.., .., 1..8, ..]),
        );
        for (&g, &w) in wide.slice(s![.., .., 1..8, ..]).iter().zip(&want) {
            assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{g} against {w}");
        }
        assert!(wide.slice(s![.., .., 0, ..]).iter().all(|v| v.is_nan()));
    }

    #[test]
    fn fused_epilogue_on_the_direct_path() {
        // A NaN weight with padding: the direct kernel, which skips the
        // taps on padding, so that the NaN reaches only the outputs where
        // its tap lands inside the image.
        let mut next = spread(3);
        let image = Array4::from_shape_simple_fn((2, 5, 6, 3), &mut next);
        let mut filter = Array4::from_shape_simple_fn((3, 3, 3, 4), &mut next);
        filter[[0, 0, 1, 2]] = f32::NAN;
        let bias = ndarray::Array1::from_shape_simple_fn(4, &mut next);
        check_fused(&image, &filter, Some(&bias), (1, 1), Padding::Same);
        let want = reference(&image, &filter, Some(&bias), true, (1, 1), Padding::Same);
        // Tap (0, 0) lies on the top padding for output row 0.
        assert!(!want[[0, 0, 3, 2]].is_nan() && want[[0, 1, 1, 2]].is_nan());
    }

    #[test]
    fn fused_epilogue_without_input_channels_is_the_activated_bias() {
        let image = Array4::<f32>::zeros((1, 2, 2, 0));
        let filter = Array4::<f32>::zeros((1, 1, 0, 3));
        let bias = ndarray::array![-1.0_f32, 0.5, 2.0];
        let mut out = Array4::from_elem((1, 2, 2, 3), f32::NAN);
        conv2d_fused_into(
            image.view(),
            filter.view(),
            Some(bias.view()),
            Activation::Relu,
            (1, 1),
            Padding::Valid,
            (1, 1),
            out.view_mut(),
        );
        assert_eq!(out.into_raw_vec_and_offset().0, [0.0, 0.5, 2.0].repeat(4),);
    }

    #[test]
    #[should_panic(expected = "kernel `conv2d` called with operands of incompatible shapes")]
    fn fused_bias_length_mismatch_panics() {
        let mut out = Array4::<f32>::zeros((1, 3, 3, 2));
        conv2d_fused_into(
            Array4::<f32>::zeros((1, 3, 3, 1)).view(),
            Array4::<f32>::zeros((1, 1, 1, 2)).view(),
            Some(ndarray::Array1::zeros(3).view()),
            Activation::Identity,
            (1, 1),
            Padding::Valid,
            (1, 1),
            out.view_mut(),
        );
    }

    #[test]
    #[should_panic(expected = "kernel `conv2d` called with operands of incompatible shapes")]
    fn channel_mismatch_panics() {
        let _ = conv2d(
            Array4::<f32>::zeros((1, 3, 3, 2)).view(),
            Array4::<f32>::zeros((1, 1, 3, 1)).view(),
            (1, 1),
            Padding::Valid,
            (1, 1),
        );
    }
}
