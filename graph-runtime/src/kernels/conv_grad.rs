//! The gradients of [`conv`](super::conv)'s convolution and pools, for the
//! backward passes `graph!` builds: NHWC images, HWIO filters, TensorFlow's
//! VALID and SAME padding (see the size table in [`conv`](super::conv)),
//! strides and dilations.
//!
//! Each kernel writes into caller storage, accepts operands of any layout
//! and allocates nothing; padding is never materialised. The convolution
//! gradients run as small matrix products on [`dense`](super::dense)'s SIMD
//! kernels, one per image row and filter tap (as the forward convolution
//! did before it became im2col by blocks), rather than as loops over every
//! index:
//!
//! - input gradient: per tap `(i, j)`, the tap's `[in, out]` matrix is
//!   transposed once into 16 KiB of stack scratch (a block of input
//!   channels at a time if it is larger), then for each output row `y`, the
//!   input row that tap reads gets `grad[y, x0..x1, :] · filter[i, j]ᵀ`
//!   added to its columns `first, first + stride, …`
//!   (`[columns, out] × [out, in]`);
//! - filter gradient: `filter_grad[i, j] += input[row, columns]ᵀ · grad[y, x0..x1, :]`
//!   (`[in, columns] × [columns, out]`).
//!
//! On the MNIST-size layers of `benches/conv_grad.rs` (batch 32) each
//! gradient costs between 0.5 and 1.7 times the forward convolution.
//!
//! The pool gradients compute bit for bit what the slice kernels
//! [`flat::max_pool2d_grad`] and
//! [`flat::avg_pool2d_grad`] do, and call them
//! for operands in standard layout.

use ndarray::{s, ArrayView2, ArrayView4, ArrayViewMut2, ArrayViewMut4, Axis, Slice, Zip};

use super::conv::Padding;
use super::dense::{product, Activation, Kernels};
use super::shape_panic;
use crate::flat::{self, picks, Pool2dDims, Window};

/// The gradient of [`conv2d`](super::conv::conv2d) with respect to its
/// input, into `out` of the input's shape `[n, h, w, c]`:
/// `out[b, y, x, c] = Σ grad[b, oy, ox, o] · filter[i, j, c, o]` over the
/// output positions `(oy, ox)` and taps `(i, j)` that read input position
/// `(y, x)`, i.e. those with `oy·sh + i·dh − pt = y` and
/// `ox·sw + j·dw − pl = x`. Input positions that no window reads get 0.
///
/// `grad` is `[n, out_h, out_w, o]` and `filter` `[kh, kw, c, o]`;
/// `strides` and `dilations` are `(height, width)`. The input's height and
/// width come from `out`, since several input sizes have the same output
/// size. No allocation.
///
/// # Panics
/// If a stride, dilation or filter size is 0, the channels or batch sizes
/// disagree, or `grad`'s height and width are not the output sizes of
/// `out`'s.
///
/// ```
/// use graph_runtime::kernels::conv::Padding;
/// use graph_runtime::kernels::conv_grad::conv2d_input_grad_into;
/// use ndarray::Array4;
///
/// // 1-D: input 3 wide, filter [1, 2], VALID: y[x] = in[x] + 2·in[x + 1].
/// let grad = Array4::from_shape_vec((1, 1, 2, 1), vec![10.0_f32, 100.0]).unwrap();
/// let filter = Array4::from_shape_vec((1, 2, 1, 1), vec![1.0_f32, 2.0]).unwrap();
/// let mut dx = Array4::zeros((1, 1, 3, 1));
/// conv2d_input_grad_into(grad.view(), filter.view(), (1, 1), Padding::Valid, (1, 1), dx.view_mut());
/// assert_eq!(dx.into_raw_vec_and_offset().0, vec![10.0, 120.0, 200.0]);
/// ```
#[track_caller]
pub fn conv2d_input_grad_into(
    grad: ArrayView4<'_, f32>,
    filter: ArrayView4<'_, f32>,
    strides: (usize, usize),
    padding: Padding,
    dilations: (usize, usize),
    mut out: ArrayViewMut4<'_, f32>,
) {
    let (batch, height, width, channels) = out.dim();
    let (kh, kw, filter_channels, out_channels) = filter.dim();
    let parameters = [strides.0, strides.1, dilations.0, dilations.1];
    let report = |out_shape: &[usize]| -> ! {
        shape_panic(
            "conv2d_input_grad",
            &[grad.shape(), filter.shape(), &parameters, out_shape],
        )
    };
    if parameters.contains(&0) || kh == 0 || kw == 0 {
        report(out.shape());
    }
    let rows = Window::new(height, kh, strides.0, dilations.0, padding);
    let cols = Window::new(width, kw, strides.1, dilations.1, padding);
    if grad.dim() != (batch, rows.output, cols.output, out_channels) || filter_channels != channels
    {
        report(out.shape());
    }
    out.fill(0.0);
    if channels == 0 || out_channels == 0 {
        return;
    }
    // Each tap's `[in, out]` matrix, transposed once into a row-major
    // `[out, in]` block on the stack (for the SIMD tile kernel, which wants
    // rows of the right operand contiguous), a block of input channels at a
    // time; then one product per image row that reads through it.
    let mut scratch = [0.0_f32; TAP_SCRATCH];
    let block = (TAP_SCRATCH / out_channels).max(1);
    for i in 0..kh {
        for j in 0..kw {
            let Some((x0, x1, first)) = cols.span(j) else {
                continue;
            };
            let tap = filter.index_axis(Axis(0), i).index_axis_move(Axis(0), j);
            for c0 in (0..channels).step_by(block) {
                let c1 = (c0 + block).min(channels);
                let shape = (out_channels, c1 - c0);
                let len = shape.0 * shape.1;
                let in_place = tap.slice_axis(Axis(0), Slice::from(c0..c1)).reversed_axes();
                let taps = if len <= TAP_SCRATCH {
                    let Ok(mut copy) = ArrayViewMut2::from_shape(shape, &mut scratch[..len]) else {
                        unreachable!("the scratch is cut to the block's size")
                    };
                    copy.assign(&in_place);
                    let Ok(copy) = ArrayView2::from_shape(shape, &scratch[..len]) else {
                        unreachable!("the scratch is cut to the block's size")
                    };
                    copy
                } else {
                    // More output channels than the scratch holds: read the
                    // transpose in place.
                    in_place
                };
                for (image, mut result) in grad.outer_iter().zip(out.outer_iter_mut()) {
                    for (y, grad_row) in image.outer_iter().enumerate() {
                        let Some(source_y) = rows.source(y, i) else {
                            continue;
                        };
                        let grads = grad_row.slice_axis(Axis(0), Slice::from(x0..x1));
                        let target = result
                            .index_axis_mut(Axis(0), source_y)
                            .slice_axis_move(Axis(0), stepped(first, x1 - x0, cols.stride))
                            .slice_axis_move(Axis(1), Slice::from(c0..c1));
                        product(
                            grads,
                            taps,
                            None,
                            Activation::Identity,
                            target,
                            true,
                            Kernels::Simd,
                        );
                    }
                }
            }
        }
    }
}

/// Floats of stack scratch for one transposed filter tap (16 KiB): a
/// 64 × 64 tap, or a block of a larger one's input channels.
const TAP_SCRATCH: usize = 4096;

/// The gradient of [`conv2d`](super::conv::conv2d) with respect to its
/// filter, into `out` of the filter's shape `[kh, kw, c, o]`:
/// `out[i, j, c, o] = Σ_{b, y, x} input[b, y·sh + i·dh − pt, x·sw + j·dw − pl, c] · grad[b, y, x, o]`
/// over the output positions whose tap `(i, j)` lands inside the input
/// (padding contributes nothing).
///
/// `input` is `[n, h, w, c]` and `grad` `[n, out_h, out_w, o]`; `strides`
/// and `dilations` are `(height, width)`. No allocation.
///
/// # Panics
/// If a stride, dilation or filter size is 0, the channels or batch sizes
/// disagree, or `grad`'s height and width are not the output sizes of the
/// input's.
///
/// ```
/// use graph_runtime::kernels::conv::Padding;
/// use graph_runtime::kernels::conv_grad::conv2d_filter_grad_into;
/// use ndarray::Array4;
///
/// // 1-D: input [1, 2, 3], filter 2 wide, VALID: y[x] = Σ_j in[x + j]·f[j].
/// let input = Array4::from_shape_vec((1, 1, 3, 1), vec![1.0_f32, 2.0, 3.0]).unwrap();
/// let grad = Array4::from_shape_vec((1, 1, 2, 1), vec![10.0_f32, 100.0]).unwrap();
/// let mut df = Array4::zeros((1, 2, 1, 1));
/// conv2d_filter_grad_into(input.view(), grad.view(), (1, 1), Padding::Valid, (1, 1), df.view_mut());
/// assert_eq!(df.into_raw_vec_and_offset().0, vec![210.0, 320.0]);
/// ```
#[track_caller]
pub fn conv2d_filter_grad_into(
    input: ArrayView4<'_, f32>,
    grad: ArrayView4<'_, f32>,
    strides: (usize, usize),
    padding: Padding,
    dilations: (usize, usize),
    mut out: ArrayViewMut4<'_, f32>,
) {
    let (batch, height, width, channels) = input.dim();
    let (kh, kw, filter_channels, out_channels) = out.dim();
    let parameters = [strides.0, strides.1, dilations.0, dilations.1];
    let report = |out_shape: &[usize]| -> ! {
        shape_panic(
            "conv2d_filter_grad",
            &[input.shape(), grad.shape(), &parameters, out_shape],
        )
    };
    if parameters.contains(&0) || kh == 0 || kw == 0 {
        report(out.shape());
    }
    let rows = Window::new(height, kh, strides.0, dilations.0, padding);
    let cols = Window::new(width, kw, strides.1, dilations.1, padding);
    if grad.dim() != (batch, rows.output, cols.output, out_channels) || filter_channels != channels
    {
        report(out.shape());
    }
    out.fill(0.0);
    for (image, grads) in input.outer_iter().zip(grad.outer_iter()) {
        for (y, grad_row) in grads.outer_iter().enumerate() {
            for i in 0..kh {
                let Some(source_y) = rows.source(y, i) else {
                    continue;
                };
                let source_row = image.index_axis(Axis(0), source_y);
                for j in 0..kw {
                    let Some((x0, x1, first)) = cols.span(j) else {
                        continue;
                    };
                    let pixels = source_row
                        .slice_axis(Axis(0), stepped(first, x1 - x0, cols.stride))
                        .reversed_axes();
                    let grads = grad_row.slice_axis(Axis(0), Slice::from(x0..x1));
                    let target = out.index_axis_mut(Axis(0), i).index_axis_move(Axis(0), j);
                    product(
                        pixels,
                        grads,
                        None,
                        Activation::Identity,
                        target,
                        true,
                        Kernels::Simd,
                    );
                }
            }
        }
    }
}

/// `count` positions from `start`, `step` apart, as a slice of one axis.
#[allow(clippy::cast_possible_wrap)] // Positions inside a live view, below isize::MAX.
fn stepped(start: usize, count: usize, step: usize) -> Slice {
    let end = start + (count - 1) * step + 1;
    Slice::new(start as isize, Some(end as isize), step as isize)
}

/// The gradient of [`max_pool2d`](super::conv::max_pool2d) with respect to
/// its input, into `out` of the input's shape: each output's gradient goes
/// to the one window position the forward picked, and overlapping windows
/// add up.
///
/// Ties go to the **first** maximum in row-major window order (window row,
/// then column), as TensorFlow's `MaxPoolGrad` and XLA's `select_and_scatter`
/// with `≥` (JAX) route them; a window holding a NaN (whose forward output
/// is NaN) sends its gradient to its first NaN. Padding is never picked.
///
/// `input` is `[n, h, w, c]`, `grad` `[n, out_h, out_w, c]`; `window` and
/// `strides` are `(height, width)`. No allocation.
///
/// # Panics
/// If a window size or stride is 0, `out` does not have `input`'s shape, or
/// `grad` is not of the pool's output shape.
///
/// ```
/// use graph_runtime::kernels::conv::Padding;
/// use graph_runtime::kernels::conv_grad::max_pool2d_grad_into;
/// use ndarray::Array4;
///
/// // Windows [3, 7] and [7, 7] (stride 1): the tie goes to the first 7.
/// let input = Array4::from_shape_vec((1, 1, 3, 1), vec![3.0_f32, 7.0, 7.0]).unwrap();
/// let grad = Array4::from_shape_vec((1, 1, 2, 1), vec![1.0_f32, 10.0]).unwrap();
/// let mut dx = Array4::zeros((1, 1, 3, 1));
/// max_pool2d_grad_into(input.view(), grad.view(), (1, 2), (1, 1), Padding::Valid, dx.view_mut());
/// assert_eq!(dx.into_raw_vec_and_offset().0, vec![0.0, 11.0, 0.0]);
/// ```
#[track_caller]
pub fn max_pool2d_grad_into(
    input: ArrayView4<'_, f32>,
    grad: ArrayView4<'_, f32>,
    window: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
    mut out: ArrayViewMut4<'_, f32>,
) {
    let (rows, cols) = pool_geometry(
        "max_pool2d_grad",
        input.dim(),
        grad.shape(),
        window,
        strides,
        padding,
        out.shape(),
    );
    let input_dim = input.dim();
    if input_dim != out.dim() {
        shape_panic(
            "max_pool2d_grad",
            &[input.shape(), grad.shape(), out.shape()],
        );
    }
    if let (Some(input), Some(grad), Some(out)) =
        (input.as_slice(), grad.as_slice(), out.as_slice_mut())
    {
        // Standard layout (the generated code's): the slice kernel.
        let dims = pool_dims(input_dim, window, strides, padding);
        flat::max_pool2d_grad(input, grad, dims, out);
        return;
    }
    out.fill(0.0);
    for ((image, grads), mut result) in input
        .outer_iter()
        .zip(grad.outer_iter())
        .zip(out.outer_iter_mut())
    {
        for y in 0..rows.output {
            let (y0, y1) = rows.covered(y);
            for x in 0..cols.output {
                let (x0, x1) = cols.covered(x);
                for (channel, &g) in grads.slice(s![y, x, ..]).iter().enumerate() {
                    let mut best = (y0, x0);
                    let mut held = image[[y0, x0, channel]];
                    for source_y in y0..y1 {
                        for source_x in x0..x1 {
                            let candidate = image[[source_y, source_x, channel]];
                            if picks(held, candidate) {
                                best = (source_y, source_x);
                                held = candidate;
                            }
                        }
                    }
                    result[[best.0, best.1, channel]] += g;
                }
            }
        }
    }
}

/// The gradient of [`avg_pool2d`](super::conv::avg_pool2d) with respect to
/// its input, into `out` of the input's shape: each output's gradient,
/// divided by the number of its window's positions that lie inside the
/// input (the forward's divisor: padding is not counted, as TensorFlow),
/// is added to each of those positions.
///
/// `grad` is `[n, out_h, out_w, c]`; the input's height and width come from
/// `out`. `window` and `strides` are `(height, width)`. No allocation.
///
/// # Panics
/// If a window size or stride is 0, or `grad` is not of the pool's output
/// shape for an input of `out`'s shape.
///
/// ```
/// use graph_runtime::kernels::conv::Padding;
/// use graph_runtime::kernels::conv_grad::avg_pool2d_grad_into;
/// use ndarray::Array4;
///
/// // Windows [x0, x1] and [x2] (SAME, stride 2): divisors 2 and 1.
/// let grad = Array4::from_shape_vec((1, 1, 2, 1), vec![4.0_f32, 10.0]).unwrap();
/// let mut dx = Array4::zeros((1, 1, 3, 1));
/// avg_pool2d_grad_into(grad.view(), (1, 2), (1, 2), Padding::Same, dx.view_mut());
/// assert_eq!(dx.into_raw_vec_and_offset().0, vec![2.0, 2.0, 10.0]);
/// ```
#[track_caller]
pub fn avg_pool2d_grad_into(
    grad: ArrayView4<'_, f32>,
    window: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
    mut out: ArrayViewMut4<'_, f32>,
) {
    let (rows, cols) = pool_geometry(
        "avg_pool2d_grad",
        out.dim(),
        grad.shape(),
        window,
        strides,
        padding,
        out.shape(),
    );
    let out_dim = out.dim();
    if let (Some(grad), Some(out)) = (grad.as_slice(), out.as_slice_mut()) {
        // Standard layout (the generated code's): the slice kernel.
        flat::avg_pool2d_grad(grad, pool_dims(out_dim, window, strides, padding), out);
        return;
    }
    out.fill(0.0);
    for (grads, mut result) in grad.outer_iter().zip(out.outer_iter_mut()) {
        for y in 0..rows.output {
            let (y0, y1) = rows.covered(y);
            for x in 0..cols.output {
                let (x0, x1) = cols.covered(x);
                let count = ((y1 - y0) * (x1 - x0)) as f32;
                let g = grads.slice(s![y, x, ..]);
                for source_y in y0..y1 {
                    for source_x in x0..x1 {
                        Zip::from(result.slice_mut(s![source_y, source_x, ..]))
                            .and(&g)
                            .for_each(|a, &g| *a += g / count);
                    }
                }
            }
        }
    }
}

/// The slice kernels' description of a pool over an input of `(n, h, w, c)`.
fn pool_dims(
    (n, h, w, c): (usize, usize, usize, usize),
    window: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
) -> Pool2dDims {
    Pool2dDims {
        n,
        h,
        w,
        c,
        window,
        strides,
        padding,
    }
}

/// Checks a pool gradient's parameters and `grad`'s shape against the
/// input's `(n, h, w, c)`, and returns the geometry of both axes.
#[track_caller]
fn pool_geometry(
    kernel: &str,
    (batch, height, width, channels): (usize, usize, usize, usize),
    grad: &[usize],
    window: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
    out: &[usize],
) -> (Window, Window) {
    let parameters = [window.0, window.1, strides.0, strides.1];
    let report = || -> ! { shape_panic(kernel, &[grad, &parameters[..2], &parameters[2..], out]) };
    if parameters.contains(&0) {
        report();
    }
    let rows = Window::new(height, window.0, strides.0, 1, padding);
    let cols = Window::new(width, window.1, strides.1, 1, padding);
    if grad != [batch, rows.output, cols.output, channels] {
        report();
    }
    (rows, cols)
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // Expected values are exact by construction.
mod tests {
    use super::*;
    use ndarray::Array4;

    #[test]
    fn max_pool_ties_go_to_the_first_maximum_in_window_order() {
        // A 2x2 window over [[5, 5], [5, 5]]: all tie, (0, 0) wins; over
        // [[1, 5], [5, 5]]: (0, 1) wins, row-major.
        let input =
            Array4::from_shape_vec((1, 2, 4, 1), vec![5.0, 5.0, 1.0, 5.0, 5.0, 5.0, 5.0, 5.0])
                .unwrap();
        let grad = Array4::from_shape_vec((1, 1, 2, 1), vec![1.0_f32, 2.0]).unwrap();
        let mut dx = Array4::zeros((1, 2, 4, 1));
        max_pool2d_grad_into(
            input.view(),
            grad.view(),
            (2, 2),
            (2, 2),
            Padding::Valid,
            dx.view_mut(),
        );
        assert_eq!(
            dx.into_raw_vec_and_offset().0,
            vec![1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn max_pool_grad_sends_nan_windows_to_their_first_nan() {
        let input =
            Array4::from_shape_vec((1, 1, 4, 1), vec![1.0, f32::NAN, 9.0, f32::NAN]).unwrap();
        let grad = Array4::from_shape_vec((1, 1, 1, 1), vec![3.0_f32]).unwrap();
        let mut dx = Array4::zeros((1, 1, 4, 1));
        max_pool2d_grad_into(
            input.view(),
            grad.view(),
            (1, 4),
            (1, 1),
            Padding::Valid,
            dx.view_mut(),
        );
        assert_eq!(dx.into_raw_vec_and_offset().0, vec![0.0, 3.0, 0.0, 0.0]);
    }

    #[test]
    #[should_panic(
        expected = "kernel `conv2d_input_grad` called with operands of incompatible shapes"
    )]
    fn input_grad_of_wrong_output_size_panics() {
        // A 5x5 input gives a 3x3 VALID output, not 4x4.
        let mut dx = Array4::<f32>::zeros((1, 5, 5, 1));
        conv2d_input_grad_into(
            Array4::<f32>::zeros((1, 4, 4, 1)).view(),
            Array4::<f32>::zeros((3, 3, 1, 1)).view(),
            (1, 1),
            Padding::Valid,
            (1, 1),
            dx.view_mut(),
        );
    }
}
