//! Max and average pooling over NHWC slices, and their gradients, on the
//! window arithmetic of [`super`].

use super::Pool2dDims;

/// Max pooling: `out[b, y, x, c]` is the largest
/// `input[b, y·sh + i − pt, x·sw + j − pl, c]` over the window positions
/// inside the input (padding never wins, as TensorFlow); a NaN in a window
/// gives NaN. As
/// [`kernels::conv::max_pool2d`](crate::kernels::conv::max_pool2d), bit
/// for bit.
///
/// `input` holds `dims.input_len()` elements and `out`
/// `dims.output_len()`.
///
/// # Panics
/// If a slice is shorter than `dims` says, or a window size or stride is 0.
///
/// ```
/// use graph_runtime::flat::{max_pool2d, Padding, Pool2dDims};
///
/// let dims = Pool2dDims { n: 1, h: 1, w: 3, c: 1, window: (1, 2), strides: (1, 2), padding: Padding::Same };
/// let mut out = [0.0_f32; 2];
/// max_pool2d(&[1.0, 5.0, 2.0], dims, &mut out);
/// assert_eq!(out, [5.0, 2.0]);
/// ```
pub fn max_pool2d(input: &[f32], dims: Pool2dDims, out: &mut [f32]) {
    let input = &input[..dims.input_len()];
    for_each_window(dims, out, |acc, pixels| {
        acc.fill(f32::NEG_INFINITY);
        for pixel in pixels {
            for (a, &v) in acc.iter_mut().zip(&input[pixel * dims.c..][..dims.c]) {
                // The first of equal values stays, NaN wins: as the ndarray
                // kernel.
                if !(a.is_nan() || *a >= v) {
                    *a = v;
                }
            }
        }
    });
}

/// Average pooling: the mean of each window over only the positions inside
/// the input (padded positions are not counted, as TensorFlow): the `f32`
/// sum in window order divided by that count. As
/// [`kernels::conv::avg_pool2d`](crate::kernels::conv::avg_pool2d), bit for
/// bit.
///
/// `input` holds `dims.input_len()` elements and `out`
/// `dims.output_len()`.
///
/// # Panics
/// As [`max_pool2d`].
///
/// ```
/// use graph_runtime::flat::{avg_pool2d, Padding, Pool2dDims};
///
/// let dims = Pool2dDims { n: 1, h: 1, w: 3, c: 1, window: (1, 2), strides: (1, 2), padding: Padding::Same };
/// let mut out = [0.0_f32; 2];
/// avg_pool2d(&[1.0, 5.0, 2.0], dims, &mut out);
/// // The last window holds only the 2: the padding does not dilute it.
/// assert_eq!(out, [3.0, 2.0]);
/// ```
pub fn avg_pool2d(input: &[f32], dims: Pool2dDims, out: &mut [f32]) {
    let input = &input[..dims.input_len()];
    for_each_window(dims, out, |acc, pixels| {
        acc.fill(0.0);
        let mut count = 0_usize;
        for pixel in pixels {
            for (a, &v) in acc.iter_mut().zip(&input[pixel * dims.c..][..dims.c]) {
                *a += v;
            }
            count += 1;
        }
        let count = count as f32;
        for a in acc {
            *a /= count;
        }
    });
}

/// The gradient of [`max_pool2d`] with respect to its input: each output's
/// gradient goes to the position that the forward picked, the first
/// maximum of its window in row-major window order (as TensorFlow's
/// `MaxPoolGrad`), or the window's first NaN if it holds one; overlapping
/// windows add up. As
/// [`kernels::conv_grad::max_pool2d_grad_into`](crate::kernels::conv_grad::max_pool2d_grad_into),
/// bit for bit.
///
/// `input` and `out` hold `dims.input_len()` elements, `grad`
/// `dims.output_len()`.
///
/// # Panics
/// As [`max_pool2d`].
///
/// ```
/// use graph_runtime::flat::{max_pool2d_grad, Padding, Pool2dDims};
///
/// // Windows [3, 7] and [7, 7] (stride 1): the tie goes to the first 7.
/// let dims = Pool2dDims { n: 1, h: 1, w: 3, c: 1, window: (1, 2), strides: (1, 1), padding: Padding::Valid };
/// let mut dx = [0.0_f32; 3];
/// max_pool2d_grad(&[3.0, 7.0, 7.0], &[1.0, 10.0], dims, &mut dx);
/// assert_eq!(dx, [0.0, 11.0, 0.0]);
/// ```
pub fn max_pool2d_grad(input: &[f32], grad: &[f32], dims: Pool2dDims, out: &mut [f32]) {
    let input = &input[..dims.input_len()];
    let out = &mut out[..dims.input_len()];
    out.fill(0.0);
    let (rows, cols) = (dims.rows(), dims.cols());
    let c = dims.c;
    // Eight channels at a time: the value each holds and the offset of the
    // pixel it came from from the window's first, in fixed-size arrays of
    // 32-bit lanes, so that the selections vectorise instead of branching on
    // the data (the last group's unused lanes compare zeros).
    let mut position = 0;
    for b in 0..dims.n {
        for y in 0..rows.output {
            let (y0, y1) = rows.covered(y);
            for x in 0..cols.output {
                let (x0, x1) = cols.covered(x);
                let grad = &grad[position * c..][..c];
                let first = (b * dims.h + y0) * dims.w + x0;
                for start in (0..c).step_by(POOL_LANES) {
                    let width = (c - start).min(POOL_LANES);
                    let mut held = [0.0_f32; POOL_LANES];
                    held[..width].copy_from_slice(&input[first * c + start..][..width]);
                    let mut from = [0_u32; POOL_LANES];
                    for pixel in pixels(dims, b, (y0, y1), (x0, x1)) {
                        let mut lane = [0.0_f32; POOL_LANES];
                        lane[..width].copy_from_slice(&input[pixel * c + start..][..width]);
                        let offset = offset_u32(pixel - first);
                        for ((h, f), v) in held.iter_mut().zip(&mut from).zip(lane) {
                            let take = picks(*h, v);
                            *h = if take { v } else { *h };
                            *f = if take { offset } else { *f };
                        }
                    }
                    for (k, (&offset, &g)) in
                        from.iter().zip(&grad[start..start + width]).enumerate()
                    {
                        out[(first + offset as usize) * c + start + k] += g;
                    }
                }
                position += 1;
            }
        }
    }
}

/// Channels per group of a max-pool gradient's per-channel state: one AVX
/// register of `f32`.
const POOL_LANES: usize = 8;

/// A pixel's offset from its window's first, less than the image's `h·w`
/// pixels.
#[allow(clippy::cast_possible_truncation)] // Images have fewer than 2³² pixels.
fn offset_u32(offset: usize) -> u32 {
    offset as u32
}

/// Channels per block of the average-pool gradient's shares, kept on the
/// stack.
const POOL_BLOCK: usize = 64;

/// Whether a max-pool gradient's scan moves from the value it holds to a
/// later `candidate`: a larger value, or the first NaN (ties stay).
#[inline]
#[allow(clippy::needless_bitwise_bool)] // No branches: the callers' loops vectorise.
pub(crate) fn picks(held: f32, candidate: f32) -> bool {
    !held.is_nan() & ((candidate > held) | candidate.is_nan())
}

/// The gradient of [`avg_pool2d`] with respect to its input: each output's
/// gradient, divided by its window's count of positions inside the input
/// (the forward's divisor), is added to each of those positions. As
/// [`kernels::conv_grad::avg_pool2d_grad_into`](crate::kernels::conv_grad::avg_pool2d_grad_into),
/// bit for bit.
///
/// `grad` holds `dims.output_len()` elements and `out` `dims.input_len()`.
///
/// # Panics
/// As [`max_pool2d`].
///
/// ```
/// use graph_runtime::flat::{avg_pool2d_grad, Padding, Pool2dDims};
///
/// // Windows [x0, x1] and [x2] (SAME, stride 2): divisors 2 and 1.
/// let dims = Pool2dDims { n: 1, h: 1, w: 3, c: 1, window: (1, 2), strides: (1, 2), padding: Padding::Same };
/// let mut dx = [0.0_f32; 3];
/// avg_pool2d_grad(&[4.0, 10.0], dims, &mut dx);
/// assert_eq!(dx, [2.0, 2.0, 10.0]);
/// ```
pub fn avg_pool2d_grad(grad: &[f32], dims: Pool2dDims, out: &mut [f32]) {
    let out = &mut out[..dims.input_len()];
    out.fill(0.0);
    let (rows, cols) = (dims.rows(), dims.cols());
    let c = dims.c;
    let mut position = 0;
    for b in 0..dims.n {
        for y in 0..rows.output {
            let (y0, y1) = rows.covered(y);
            for x in 0..cols.output {
                let (x0, x1) = cols.covered(x);
                let count = ((y1 - y0) * (x1 - x0)) as f32;
                let grad = &grad[position * c..][..c];
                for start in (0..c).step_by(POOL_BLOCK) {
                    let width = (c - start).min(POOL_BLOCK);
                    let mut share = [0.0_f32; POOL_BLOCK];
                    for (s, &g) in share.iter_mut().zip(&grad[start..start + width]) {
                        *s = g / count;
                    }
                    for pixel in pixels(dims, b, (y0, y1), (x0, x1)) {
                        for (a, &s) in out[pixel * c + start..][..width].iter_mut().zip(&share) {
                            *a += s;
                        }
                    }
                }
                position += 1;
            }
        }
    }
}

/// The pixels (indices in `[n·h·w]`) of image `b` in rows `y0..y1` and
/// columns `x0..x1`, in row-major order.
fn pixels(
    dims: Pool2dDims,
    b: usize,
    (y0, y1): (usize, usize),
    (x0, x1): (usize, usize),
) -> impl Iterator<Item = usize> {
    (y0..y1).flat_map(move |y| {
        let row = (b * dims.h + y) * dims.w;
        (x0..x1).map(move |x| row + x)
    })
}

/// For each output pixel in order, calls `visit(acc, pixels)` with its
/// channel lane of `out` and the input pixels its window covers.
fn for_each_window(
    dims: Pool2dDims,
    out: &mut [f32],
    mut visit: impl FnMut(&mut [f32], &mut dyn Iterator<Item = usize>),
) {
    let (rows, cols) = (dims.rows(), dims.cols());
    let c = dims.c;
    let out = &mut out[..dims.output_len()];
    let mut position = 0;
    for b in 0..dims.n {
        for y in 0..rows.output {
            let covered_rows = rows.covered(y);
            for x in 0..cols.output {
                let covered_cols = cols.covered(x);
                let acc = &mut out[position * c..][..c];
                visit(acc, &mut pixels(dims, b, covered_rows, covered_cols));
                position += 1;
            }
        }
    }
}
