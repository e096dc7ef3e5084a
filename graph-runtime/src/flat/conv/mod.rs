//! 2-D convolution and pooling over NHWC images on row-major slices, with
//! their gradients, and the size rules they share with the ndarray kernels
//! of [`kernels::conv`](crate::kernels::conv) (when the `std` feature is on).
//!
//! Images are `[n, h, w, c]`, filters `[kh, kw, c, o]` (HWIO) and
//! convolution outputs `[n, out_h, out_w, o]`, all row-major; pool outputs
//! are `[n, out_h, out_w, c]`. Every size is given by the caller in a
//! [`Conv2dDims`] or [`Pool2dDims`], whose `out_h`/`out_w` give the output
//! sizes by [`conv_output_size`]. Per spatial axis, with input size `in`,
//! window `k`, stride `s ≥ 1` and dilation `d ≥ 1` (pooling has `d = 1`),
//! the effective window is `k_eff = (k − 1)·d + 1` and:
//!
//! | padding | output size              | padding before + after                          |
//! |---------|--------------------------|-------------------------------------------------|
//! | `Valid` | `⌊(in − k_eff) / s⌋ + 1` (0 if `in < k_eff`) | none                    |
//! | `Same`  | `⌈in / s⌉`               | `max((out − 1)·s + k_eff − in, 0)`, split with the odd one after |
//!
//! The kernels allocate nothing, never panic on the data (only on slices
//! shorter than the sizes say, or on a zero stride, dilation or window,
//! which are bugs of the caller), and compute the same functions as the
//! ndarray kernels: the pools and their gradients bit for bit (same
//! operations in the same order), the convolutions to rounding (the ndarray
//! ones sum through the SIMD matrix kernels, in another order).

/// How a window-sliding op treats the image border.
///
/// Per spatial axis, with input size `in`, window `k`, stride `s ≥ 1` and
/// dilation `d ≥ 1` (pooling has `d = 1`), the effective window is
/// `k_eff = (k − 1)·d + 1` and:
///
/// | padding | output size              | padding before + after                          |
/// |---------|--------------------------|-------------------------------------------------|
/// | `Valid` | `⌊(in − k_eff) / s⌋ + 1` (0 if `in < k_eff`) | none                    |
/// | `Same`  | `⌈in / s⌉`               | `max((out − 1)·s + k_eff − in, 0)`, split with the odd one after |
///
/// [`conv_output_size`] and [`conv_padding`] compute exactly these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Padding {
    /// No padding: only windows that fit entirely inside the input.
    Valid,
    /// Pad so that the output has `⌈in / stride⌉` positions per axis, with
    /// half the padding before and the rest (one more, if odd) after, as
    /// TensorFlow's `"SAME"`.
    Same,
}

/// The extent of a window of `kernel` taps spaced `dilation` apart:
/// `(kernel − 1)·dilation + 1`.
///
/// # Panics
/// If `kernel` or `dilation` is 0.
///
/// ```
/// use graph_runtime::flat::effective_kernel_size;
///
/// assert_eq!(effective_kernel_size(3, 2), 5);
/// ```
#[must_use]
pub const fn effective_kernel_size(kernel: usize, dilation: usize) -> usize {
    assert!(
        kernel > 0 && dilation > 0,
        "kernel size and dilation must be at least 1"
    );
    (kernel - 1) * dilation + 1
}

/// Output size along one spatial axis (see the table on [`Padding`]).
///
/// # Panics
/// If `kernel`, `stride` or `dilation` is 0.
///
/// ```
/// use graph_runtime::flat::{conv_output_size, Padding};
///
/// assert_eq!(conv_output_size(7, 3, 2, 1, Padding::Valid), 3);
/// assert_eq!(conv_output_size(7, 4, 2, 1, Padding::Same), 4);
/// assert_eq!(conv_output_size(2, 3, 1, 1, Padding::Valid), 0);
/// ```
#[must_use]
pub const fn conv_output_size(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
) -> usize {
    assert!(stride > 0, "stride must be at least 1");
    let extent = effective_kernel_size(kernel, dilation);
    match padding {
        Padding::Valid if input < extent => 0,
        Padding::Valid => (input - extent) / stride + 1,
        Padding::Same => input.div_ceil(stride),
    }
}

/// Padding `(before, after)` along one spatial axis (see the table on
/// [`Padding`]); `(0, 0)` for `Valid` and for an empty output.
///
/// # Panics
/// If `kernel`, `stride` or `dilation` is 0.
///
/// ```
/// use graph_runtime::flat::{conv_padding, Padding};
///
/// // 2x2 window, stride 1: one extra row, placed after.
/// assert_eq!(conv_padding(5, 2, 1, 1, Padding::Same), (0, 1));
/// // 3 taps dilated by 2 span 5: four rows in all.
/// assert_eq!(conv_padding(6, 3, 1, 2, Padding::Same), (2, 2));
/// ```
#[must_use]
pub const fn conv_padding(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
) -> (usize, usize) {
    let output = conv_output_size(input, kernel, stride, dilation, padding);
    match padding {
        Padding::Same if output > 0 => {
            let needed = (output - 1) * stride + effective_kernel_size(kernel, dilation);
            let total = needed.saturating_sub(input);
            (total / 2, total - total / 2)
        }
        _ => (0, 0),
    }
}

/// The sizes of a 2-D convolution: input `[n, h, w, c]`, filter
/// `[kh, kw, c, o]`, output `[n, out_h(), out_w(), o]`; `strides` and
/// `dilations` are `(height, width)`, each at least 1.
///
/// ```
/// use graph_runtime::flat::{Conv2dDims, Padding};
///
/// let dims = Conv2dDims {
///     n: 32, h: 28, w: 28, c: 1, kh: 3, kw: 3, o: 8,
///     strides: (2, 2), dilations: (1, 1), padding: Padding::Same,
/// };
/// assert_eq!((dims.out_h(), dims.out_w()), (14, 14));
/// assert_eq!(dims.output_len(), 32 * 14 * 14 * 8);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2dDims {
    /// Images in the batch.
    pub n: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Input channels.
    pub c: usize,
    /// Filter height.
    pub kh: usize,
    /// Filter width.
    pub kw: usize,
    /// Output channels.
    pub o: usize,
    /// `(height, width)` strides.
    pub strides: (usize, usize),
    /// `(height, width)` dilations.
    pub dilations: (usize, usize),
    /// The border rule.
    pub padding: Padding,
}

impl Conv2dDims {
    /// Output height, by [`conv_output_size`].
    ///
    /// # Panics
    /// If `kh`, the height stride or the height dilation is 0.
    #[must_use]
    pub const fn out_h(&self) -> usize {
        conv_output_size(
            self.h,
            self.kh,
            self.strides.0,
            self.dilations.0,
            self.padding,
        )
    }

    /// Output width, by [`conv_output_size`].
    ///
    /// # Panics
    /// If `kw`, the width stride or the width dilation is 0.
    #[must_use]
    pub const fn out_w(&self) -> usize {
        conv_output_size(
            self.w,
            self.kw,
            self.strides.1,
            self.dilations.1,
            self.padding,
        )
    }

    /// Elements of the input (and of its gradient): `n·h·w·c`.
    #[must_use]
    pub const fn input_len(&self) -> usize {
        self.n * self.h * self.w * self.c
    }

    /// Elements of the filter (and of its gradient): `kh·kw·c·o`.
    #[must_use]
    pub const fn filter_len(&self) -> usize {
        self.kh * self.kw * self.c * self.o
    }

    /// Elements of the output (and of its gradient): `n·out_h·out_w·o`.
    ///
    /// # Panics
    /// As [`out_h`](Self::out_h) and [`out_w`](Self::out_w).
    #[must_use]
    pub const fn output_len(&self) -> usize {
        self.n * self.out_h() * self.out_w() * self.o
    }

    fn rows(&self) -> Window {
        Window::new(
            self.h,
            self.kh,
            self.strides.0,
            self.dilations.0,
            self.padding,
        )
    }

    fn cols(&self) -> Window {
        Window::new(
            self.w,
            self.kw,
            self.strides.1,
            self.dilations.1,
            self.padding,
        )
    }
}

/// The sizes of a 2-D pool: input `[n, h, w, c]`, output
/// `[n, out_h(), out_w(), c]`; `window` and `strides` are
/// `(height, width)`, each at least 1.
///
/// ```
/// use graph_runtime::flat::{Padding, Pool2dDims};
///
/// let dims = Pool2dDims {
///     n: 1, h: 5, w: 5, c: 3, window: (2, 2), strides: (2, 2), padding: Padding::Same,
/// };
/// assert_eq!((dims.out_h(), dims.out_w()), (3, 3));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pool2dDims {
    /// Images in the batch.
    pub n: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Channels.
    pub c: usize,
    /// `(height, width)` of the window.
    pub window: (usize, usize),
    /// `(height, width)` strides.
    pub strides: (usize, usize),
    /// The border rule.
    pub padding: Padding,
}

impl Pool2dDims {
    /// Output height, by [`conv_output_size`] with dilation 1.
    ///
    /// # Panics
    /// If the window height or the height stride is 0.
    #[must_use]
    pub const fn out_h(&self) -> usize {
        conv_output_size(self.h, self.window.0, self.strides.0, 1, self.padding)
    }

    /// Output width, by [`conv_output_size`] with dilation 1.
    ///
    /// # Panics
    /// If the window width or the width stride is 0.
    #[must_use]
    pub const fn out_w(&self) -> usize {
        conv_output_size(self.w, self.window.1, self.strides.1, 1, self.padding)
    }

    /// Elements of the input (and of its gradient): `n·h·w·c`.
    #[must_use]
    pub const fn input_len(&self) -> usize {
        self.n * self.h * self.w * self.c
    }

    /// Elements of the output (and of its gradient): `n·out_h·out_w·c`.
    ///
    /// # Panics
    /// As [`out_h`](Self::out_h) and [`out_w`](Self::out_w).
    #[must_use]
    pub const fn output_len(&self) -> usize {
        self.n * self.out_h() * self.out_w() * self.c
    }

    fn rows(&self) -> Window {
        Window::new(self.h, self.window.0, self.strides.0, 1, self.padding)
    }

    fn cols(&self) -> Window {
        Window::new(self.w, self.window.1, self.strides.1, 1, self.padding)
    }
}

/// Where the windows of one spatial axis land: output position `x`, tap
/// `t` reads input position `x·stride + t·dilation − before`, or padding
/// when that lies outside `0..input`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) input: usize,
    pub(crate) kernel: usize,
    pub(crate) stride: usize,
    pub(crate) dilation: usize,
    pub(crate) before: usize,
    pub(crate) output: usize,
}

impl Window {
    /// The geometry of one axis.
    ///
    /// # Panics
    /// If `kernel`, `stride` or `dilation` is 0.
    pub(crate) const fn new(
        input: usize,
        kernel: usize,
        stride: usize,
        dilation: usize,
        padding: Padding,
    ) -> Self {
        Window {
            input,
            kernel,
            stride,
            dilation,
            before: conv_padding(input, kernel, stride, dilation, padding).0,
            output: conv_output_size(input, kernel, stride, dilation, padding),
        }
    }

    /// The input position that output `out` reads at tap `tap`, if it lies
    /// inside the input.
    #[inline]
    pub(crate) fn source(&self, out: usize, tap: usize) -> Option<usize> {
        let padded = out * self.stride + tap * self.dilation;
        let position = padded.checked_sub(self.before)?;
        (position < self.input).then_some(position)
    }

    /// For tap `tap`: the output positions `x0..x1` at which it lands inside
    /// the input, and the input position of the first (the others follow
    /// `stride` apart); `None` if there are none.
    #[inline]
    pub(crate) fn span(&self, tap: usize) -> Option<(usize, usize, usize)> {
        let offset = tap * self.dilation;
        let x0 = self.before.saturating_sub(offset).div_ceil(self.stride);
        let limit = self.input + self.before;
        if limit <= offset {
            return None;
        }
        let x1 = ((limit - offset - 1) / self.stride + 1).min(self.output);
        (x0 < x1).then(|| (x0, x1, x0 * self.stride + offset - self.before))
    }

    /// For a window of dilation 1: the input positions `lo..hi` that output
    /// `out`'s window covers inside the input (never empty for a position
    /// of a non-empty output: the padding before is less than the window,
    /// and every window starts before the input ends).
    #[inline]
    pub(crate) fn covered(&self, out: usize) -> (usize, usize) {
        let start = out * self.stride;
        let lo = start.saturating_sub(self.before);
        let hi = (start + self.kernel)
            .saturating_sub(self.before)
            .min(self.input);
        (lo, hi)
    }
}

/// 2-D convolution (cross-correlation, as in TensorFlow):
/// `out[b, y, x, o] = Σ_{i, j, c} input[b, y·sh + i·dh − pt, x·sw + j·dw − pl, c] · filter[i, j, c, o]`,
/// where `pt`, `pl` are the padding before (top, left) from
/// [`conv_padding`] and positions outside the input read 0; as
/// [`kernels::conv::conv2d`](crate::kernels::conv::conv2d).
///
/// `input` holds `dims.input_len()` elements, `filter`
/// `dims.filter_len()`, and `out` `dims.output_len()`.
///
/// # Panics
/// If a slice is shorter than `dims` says, or a stride, dilation or filter
/// size is 0.
///
/// ```
/// use graph_runtime::flat::{conv2d, Conv2dDims, Padding};
///
/// let dims = Conv2dDims {
///     n: 1, h: 2, w: 2, c: 1, kh: 2, kw: 2, o: 1,
///     strides: (1, 1), dilations: (1, 1), padding: Padding::Same,
/// };
/// let mut out = [0.0_f32; 4];
/// conv2d(&[1.0, 2.0, 3.0, 4.0], &[1.0; 4], dims, &mut out);
/// // Each window sums what lies right of and below it.
/// assert_eq!(out, [10.0, 6.0, 7.0, 4.0]);
/// ```
pub fn conv2d(input: &[f32], filter: &[f32], dims: Conv2dDims, out: &mut [f32]) {
    let out = &mut out[..dims.output_len()];
    out.fill(0.0);
    let (c, o) = (dims.c, dims.o);
    if c == 0 || o == 0 {
        return;
    }
    let input = &input[..dims.input_len()];
    let filter = &filter[..dims.filter_len()];
    for_each_tap(dims, |input_pixel, output_pixel, tap| {
        let pixel = &input[input_pixel * c..][..c];
        let acc = &mut out[output_pixel * o..][..o];
        for (&v, weights) in pixel
            .iter()
            .zip(filter[tap * c * o..][..c * o].chunks_exact(o))
        {
            for (a, &f) in acc.iter_mut().zip(weights) {
                *a += v * f;
            }
        }
    });
}

/// The gradient of [`conv2d`] with respect to its input:
/// `out[b, y, x, c] = Σ grad[b, oy, ox, o] · filter[i, j, c, o]` over the
/// output positions `(oy, ox)` and taps `(i, j)` that read input position
/// `(y, x)`; as
/// [`kernels::conv_grad::conv2d_input_grad_into`](crate::kernels::conv_grad::conv2d_input_grad_into).
///
/// `dims` describes the forward convolution: `grad` holds
/// `dims.output_len()` elements, `filter` `dims.filter_len()` and `out`
/// `dims.input_len()`. Input positions no window reads (strides larger than
/// the window, VALID leftovers) get 0.
///
/// # Panics
/// As [`conv2d`].
///
/// ```
/// use graph_runtime::flat::{conv2d_input_grad, Conv2dDims, Padding};
///
/// // 1-D: input 3 wide, filter [1, 2], VALID: out[x] = in[x] + 2·in[x + 1].
/// let dims = Conv2dDims {
///     n: 1, h: 1, w: 3, c: 1, kh: 1, kw: 2, o: 1,
///     strides: (1, 1), dilations: (1, 1), padding: Padding::Valid,
/// };
/// let mut dx = [0.0_f32; 3];
/// conv2d_input_grad(&[10.0, 100.0], &[1.0, 2.0], dims, &mut dx);
/// assert_eq!(dx, [10.0, 120.0, 200.0]);
/// ```
pub fn conv2d_input_grad(grad: &[f32], filter: &[f32], dims: Conv2dDims, out: &mut [f32]) {
    let out = &mut out[..dims.input_len()];
    out.fill(0.0);
    let (c, o) = (dims.c, dims.o);
    if c == 0 || o == 0 {
        return;
    }
    let grad = &grad[..dims.output_len()];
    let filter = &filter[..dims.filter_len()];
    for_each_tap(dims, |input_pixel, output_pixel, tap| {
        let g = &grad[output_pixel * o..][..o];
        let acc = &mut out[input_pixel * c..][..c];
        for (a, weights) in acc
            .iter_mut()
            .zip(filter[tap * c * o..][..c * o].chunks_exact(o))
        {
            *a += dot(g, weights);
        }
    });
}

/// The gradient of [`conv2d`] with respect to its filter:
/// `out[i, j, c, o] = Σ_{b, y, x} input[b, y·sh + i·dh − pt, x·sw + j·dw − pl, c] · grad[b, y, x, o]`
/// over the output positions whose tap `(i, j)` lands inside the input; as
/// [`kernels::conv_grad::conv2d_filter_grad_into`](crate::kernels::conv_grad::conv2d_filter_grad_into).
///
/// `dims` describes the forward convolution: `input` holds
/// `dims.input_len()` elements, `grad` `dims.output_len()` and `out`
/// `dims.filter_len()`.
///
/// # Panics
/// As [`conv2d`].
///
/// ```
/// use graph_runtime::flat::{conv2d_filter_grad, Conv2dDims, Padding};
///
/// // 1-D: input [1, 2, 3], filter 2 wide, VALID: out[x] = Σ_j in[x + j]·f[j].
/// let dims = Conv2dDims {
///     n: 1, h: 1, w: 3, c: 1, kh: 1, kw: 2, o: 1,
///     strides: (1, 1), dilations: (1, 1), padding: Padding::Valid,
/// };
/// let mut df = [0.0_f32; 2];
/// conv2d_filter_grad(&[1.0, 2.0, 3.0], &[10.0, 100.0], dims, &mut df);
/// assert_eq!(df, [1.0 * 10.0 + 2.0 * 100.0, 2.0 * 10.0 + 3.0 * 100.0]);
/// ```
pub fn conv2d_filter_grad(input: &[f32], grad: &[f32], dims: Conv2dDims, out: &mut [f32]) {
    let out = &mut out[..dims.filter_len()];
    out.fill(0.0);
    let (c, o) = (dims.c, dims.o);
    if c == 0 || o == 0 {
        return;
    }
    let input = &input[..dims.input_len()];
    let grad = &grad[..dims.output_len()];
    for_each_tap(dims, |input_pixel, output_pixel, tap| {
        let pixel = &input[input_pixel * c..][..c];
        let g = &grad[output_pixel * o..][..o];
        for (&v, acc) in pixel
            .iter()
            .zip(out[tap * c * o..][..c * o].chunks_exact_mut(o))
        {
            for (a, &d) in acc.iter_mut().zip(g) {
                *a += v * d;
            }
        }
    });
}

/// Calls `visit(input_pixel, output_pixel, tap)` for every output pixel and
/// every filter tap that lands inside the input, with the pixels' indices
/// in `[n·h·w]` and `[n·out_h·out_w]` and the tap's in `[kh·kw]`: in the
/// order image, output row, tap row, tap column, output column.
#[inline]
fn for_each_tap(dims: Conv2dDims, mut visit: impl FnMut(usize, usize, usize)) {
    let (rows, cols) = (dims.rows(), dims.cols());
    for b in 0..dims.n {
        for y in 0..rows.output {
            let output_row = (b * rows.output + y) * cols.output;
            for i in 0..dims.kh {
                let Some(source_y) = rows.source(y, i) else {
                    continue;
                };
                let input_row = (b * dims.h + source_y) * dims.w;
                for j in 0..dims.kw {
                    let Some((x0, x1, first)) = cols.span(j) else {
                        continue;
                    };
                    let tap = i * dims.kw + j;
                    for (k, x) in (x0..x1).enumerate() {
                        visit(input_row + first + k * cols.stride, output_row + x, tap);
                    }
                }
            }
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(&x, &y)| x * y).sum()
}

mod pool;

#[cfg(feature = "std")]
pub(crate) use pool::picks;
pub use pool::{avg_pool2d, avg_pool2d_grad, max_pool2d, max_pool2d_grad};

#[cfg(test)]
mod tests;
