//! The `_into` and `_inplace` forms of the one-operand kernels: writing
//! into caller storage of the operand's shape, or over the operand itself.
//! Both accept views of any layout and never allocate.

use ndarray::{ArrayView, ArrayViewMut, Dimension, Zip};

use super::super::shape_panic;
use crate::scalar;

/// Writes `f(x)` into `out`, elementwise.
#[track_caller]
fn map_into<D: Dimension>(
    kernel: &str,
    x: ArrayView<'_, f32, D>,
    mut out: ArrayViewMut<'_, f32, D>,
    f: impl Fn(f32) -> f32,
) {
    if x.shape() != out.shape() {
        shape_panic(kernel, &[x.shape(), out.shape()]);
    }
    Zip::from(&mut out).and(&x).for_each(|o, &v| *o = f(v));
}

/// Generates the `_into` and `_inplace` forms of a one-operand kernel.
macro_rules! forms {
    ($name:ident, $into:ident, $inplace:ident, $f:expr, $sample:literal) => {
        #[doc = concat!("[`", stringify!($name), "`](super::", stringify!($name), ") into caller storage: `out` must have `x`'s shape; any layouts, no allocation.")]
        #[doc = ""]
        #[doc = "# Panics"]
        #[doc = "If `out` does not have `x`'s shape."]
        #[doc = ""]
        #[doc = "```"]
        #[doc = concat!("use graph_runtime::kernels::unary::{", stringify!($name), ", ", stringify!($into), "};")]
        #[doc = "use ndarray::{array, Array2};"]
        #[doc = ""]
        #[doc = concat!("let x = array!", $sample, ";")]
        #[doc = "let mut out = Array2::zeros((2, 2));"]
        #[doc = concat!(stringify!($into), "(x.t(), out.view_mut());")]
        #[doc = concat!("assert_eq!(out, ", stringify!($name), "(x.t()));")]
        #[doc = "```"]
        #[track_caller]
        pub fn $into<D: Dimension>(x: ArrayView<'_, f32, D>, out: ArrayViewMut<'_, f32, D>) {
            map_into(stringify!($name), x, out, $f);
        }

        #[doc = concat!("[`", stringify!($name), "`](super::", stringify!($name), ") in place: overwrites every element of `x`, of any layout.")]
        #[doc = ""]
        #[doc = "```"]
        #[doc = concat!("use graph_runtime::kernels::unary::{", stringify!($name), ", ", stringify!($inplace), "};")]
        #[doc = "use ndarray::array;"]
        #[doc = ""]
        #[doc = concat!("let x = array!", $sample, ";")]
        #[doc = "let mut y = x.clone();"]
        #[doc = concat!(stringify!($inplace), "(y.view_mut());")]
        #[doc = concat!("assert_eq!(y, ", stringify!($name), "(x.view()));")]
        #[doc = "```"]
        pub fn $inplace<D: Dimension>(mut x: ArrayViewMut<'_, f32, D>) {
            let f = $f;
            x.mapv_inplace(f);
        }
    };
}

forms!(
    abs,
    abs_into,
    abs_inplace,
    f32::abs,
    "[[-1.5_f32, 2.0], [0.0, -4.0]]"
);
forms!(
    exp,
    exp_into,
    exp_inplace,
    f32::exp,
    "[[-1.5_f32, 2.0], [0.0, 4.0]]"
);
forms!(
    log,
    log_into,
    log_inplace,
    f32::ln,
    "[[0.5_f32, 2.0], [1.0, 4.0]]"
);
forms!(
    sqrt,
    sqrt_into,
    sqrt_inplace,
    f32::sqrt,
    "[[0.25_f32, 2.0], [1.0, 9.0]]"
);
forms!(
    square,
    square_into,
    square_inplace,
    |v: f32| v * v,
    "[[-1.5_f32, 2.0], [0.0, 3.0]]"
);
forms!(
    relu,
    relu_into,
    relu_inplace,
    scalar::relu,
    "[[-1.5_f32, 2.0], [0.0, -4.0]]"
);
forms!(
    sigmoid,
    sigmoid_into,
    sigmoid_inplace,
    scalar::sigmoid,
    "[[-1.5_f32, 2.0], [0.0, 40.0]]"
);
forms!(
    tanh,
    tanh_into,
    tanh_inplace,
    f32::tanh,
    "[[-1.5_f32, 2.0], [0.0, 4.0]]"
);
forms!(
    gelu_tanh,
    gelu_tanh_into,
    gelu_tanh_inplace,
    scalar::gelu_tanh,
    "[[-1.5_f32, 2.0], [0.0, 4.0]]"
);
forms!(
    gelu_exact,
    gelu_exact_into,
    gelu_exact_inplace,
    scalar::gelu_exact,
    "[[-1.5_f32, 2.0], [0.0, 4.0]]"
);
forms!(
    erf,
    erf_into,
    erf_inplace,
    scalar::erf,
    "[[-1.5_f32, 2.0], [0.0, 0.5]]"
);
forms!(
    softplus,
    softplus_into,
    softplus_inplace,
    scalar::softplus,
    "[[-1.5_f32, 2.0], [0.0, 40.0]]"
);

forms!(
    silu,
    silu_into,
    silu_inplace,
    scalar::silu,
    "[[-1.5_f32, 2.0], [0.0, -40.0]]"
);

/// [`pow`](super::pow) into caller storage: `out` must have `x`'s shape; any layouts,
/// no allocation.
///
/// # Panics
/// If `out` does not have `x`'s shape.
///
/// ```
/// use graph_runtime::kernels::unary::pow_into;
/// use ndarray::{array, Array1};
///
/// let mut out = Array1::zeros(2);
/// pow_into(array![2.0_f32, 3.0].view(), 2.0, out.view_mut());
/// assert_eq!(out, array![4.0, 9.0]);
/// ```
#[track_caller]
pub fn pow_into<D: Dimension>(x: ArrayView<'_, f32, D>, p: f32, out: ArrayViewMut<'_, f32, D>) {
    map_into("pow", x, out, |v| v.powf(p));
}

/// [`pow`](super::pow) in place: overwrites every element of `x`, of any layout.
///
/// ```
/// use graph_runtime::kernels::unary::pow_inplace;
/// use ndarray::array;
///
/// let mut x = array![2.0_f32, 3.0];
/// pow_inplace(x.view_mut(), 3.0);
/// assert_eq!(x, array![8.0, 27.0]);
/// ```
pub fn pow_inplace<D: Dimension>(mut x: ArrayViewMut<'_, f32, D>, p: f32) {
    x.mapv_inplace(|v| v.powf(p));
}

/// [`leaky_relu`](super::leaky_relu) into caller storage: `out` must have `x`'s shape; any
/// layouts, no allocation.
///
/// # Panics
/// If `out` does not have `x`'s shape.
///
/// ```
/// use graph_runtime::kernels::unary::leaky_relu_into;
/// use ndarray::{array, Array1};
///
/// let mut out = Array1::zeros(2);
/// leaky_relu_into(array![-2.0_f32, 3.0].view(), 0.25, out.view_mut());
/// assert_eq!(out, array![-0.5, 3.0]);
/// ```
#[track_caller]
pub fn leaky_relu_into<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    alpha: f32,
    out: ArrayViewMut<'_, f32, D>,
) {
    map_into("leaky_relu", x, out, |v| scalar::leaky_relu(v, alpha));
}

/// [`leaky_relu`](super::leaky_relu) in place: overwrites every element of `x`, of any layout.
///
/// ```
/// use graph_runtime::kernels::unary::leaky_relu_inplace;
/// use ndarray::array;
///
/// let mut x = array![-2.0_f32, 3.0];
/// leaky_relu_inplace(x.view_mut(), 0.5);
/// assert_eq!(x, array![-1.0, 3.0]);
/// ```
pub fn leaky_relu_inplace<D: Dimension>(mut x: ArrayViewMut<'_, f32, D>, alpha: f32) {
    x.mapv_inplace(|v| scalar::leaky_relu(v, alpha));
}

/// [`clip`](super::clip) into caller storage: `out` must have `x`'s shape; any layouts,
/// no allocation.
///
/// # Panics
/// If `out` does not have `x`'s shape.
///
/// ```
/// use graph_runtime::kernels::unary::clip_into;
/// use ndarray::{array, Array1};
///
/// let mut out = Array1::zeros(3);
/// clip_into(array![-5.0_f32, 0.5, 5.0].view(), 0.0, 1.0, out.view_mut());
/// assert_eq!(out, array![0.0, 0.5, 1.0]);
/// ```
#[track_caller]
pub fn clip_into<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    lo: f32,
    hi: f32,
    out: ArrayViewMut<'_, f32, D>,
) {
    map_into("clip", x, out, |v| scalar::clip(v, lo, hi));
}

/// [`clip`](super::clip) in place: overwrites every element of `x`, of any layout.
///
/// ```
/// use graph_runtime::kernels::unary::clip_inplace;
/// use ndarray::array;
///
/// let mut x = array![-5.0_f32, 0.5, 5.0];
/// clip_inplace(x.view_mut(), 0.0, 1.0);
/// assert_eq!(x, array![0.0, 0.5, 1.0]);
/// ```
pub fn clip_inplace<D: Dimension>(mut x: ArrayViewMut<'_, f32, D>, lo: f32, hi: f32) {
    x.mapv_inplace(|v| scalar::clip(v, lo, hi));
}

/// [`elu`](super::elu) into caller storage: `out` must have `x`'s shape; any layouts,
/// no allocation.
///
/// # Panics
/// If `out` does not have `x`'s shape.
///
/// ```
/// use graph_runtime::kernels::unary::elu_into;
/// use ndarray::{array, Array1};
///
/// let mut out = Array1::zeros(3);
/// elu_into(array![3.0_f32, 0.0, f32::NEG_INFINITY].view(), 2.0, out.view_mut());
/// assert_eq!(out, array![3.0, 0.0, -2.0]);
/// ```
#[track_caller]
pub fn elu_into<D: Dimension>(x: ArrayView<'_, f32, D>, alpha: f32, out: ArrayViewMut<'_, f32, D>) {
    map_into("elu", x, out, |v| scalar::elu(v, alpha));
}

/// [`elu`](super::elu) in place: overwrites every element of `x`, of any layout.
///
/// ```
/// use graph_runtime::kernels::unary::elu_inplace;
/// use ndarray::array;
///
/// let mut x = array![3.0_f32, f32::NEG_INFINITY];
/// elu_inplace(x.view_mut(), 0.5);
/// assert_eq!(x, array![3.0, -0.5]);
/// ```
pub fn elu_inplace<D: Dimension>(mut x: ArrayViewMut<'_, f32, D>, alpha: f32) {
    x.mapv_inplace(|v| scalar::elu(v, alpha));
}

/// [`hard_sigmoid`](super::hard_sigmoid) into caller storage: `out` must have `x`'s shape; any
/// layouts, no allocation.
///
/// # Panics
/// If `out` does not have `x`'s shape.
///
/// ```
/// use graph_runtime::kernels::unary::hard_sigmoid_into;
/// use ndarray::{array, Array1};
///
/// let mut out = Array1::zeros(3);
/// hard_sigmoid_into(array![-5.0_f32, 1.0, 5.0].view(), 0.25, 0.5, out.view_mut());
/// assert_eq!(out, array![0.0, 0.75, 1.0]);
/// ```
#[track_caller]
pub fn hard_sigmoid_into<D: Dimension>(
    x: ArrayView<'_, f32, D>,
    alpha: f32,
    beta: f32,
    out: ArrayViewMut<'_, f32, D>,
) {
    map_into("hard_sigmoid", x, out, |v| {
        scalar::hard_sigmoid(v, alpha, beta)
    });
}

/// [`hard_sigmoid`](super::hard_sigmoid) in place: overwrites every element of `x`, of any
/// layout.
///
/// ```
/// use graph_runtime::kernels::unary::hard_sigmoid_inplace;
/// use ndarray::array;
///
/// let mut x = array![-5.0_f32, 1.0, 5.0];
/// hard_sigmoid_inplace(x.view_mut(), 0.25, 0.5);
/// assert_eq!(x, array![0.0, 0.75, 1.0]);
/// ```
pub fn hard_sigmoid_inplace<D: Dimension>(mut x: ArrayViewMut<'_, f32, D>, alpha: f32, beta: f32) {
    x.mapv_inplace(|v| scalar::hard_sigmoid(v, alpha, beta));
}
