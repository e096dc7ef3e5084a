//! NaN and infinity through every kernel family: one test per statement of
//! `docs/NUMERICS.md`, each against values worked out by hand from IEEE-754
//! rules (`x / 0 = ±inf`, `0 · inf = NaN`, `inf − inf = NaN`, NaN in gives
//! NaN out) and the formulas in the kernels' docs.

use graph_runtime::kernels::dense::{
    dense, dense_into, dense_into_portable, simd_available, Activation,
};
use graph_runtime::kernels::{
    batched, binary, conv, dropout, elementwise, linalg, loss, nn, reduce, softmax, unary,
};
use ndarray::{
    array, aview0, s, Array0, Array1, Array2, Array3, Array4, ArrayView2, ArrayViewMut2, Axis,
};

const NAN: f32 = f32::NAN;
const INF: f32 = f32::INFINITY;
const NEG: f32 = f32::NEG_INFINITY;

/// Whether `a` and `b` are the same value: both NaN, or equal with the same
/// sign (so `0` and `-0` differ).
fn same(a: f32, b: f32) -> bool {
    (a.is_nan() && b.is_nan()) || (a == b && a.is_sign_negative() == b.is_sign_negative())
}

/// Asserts that `actual`, in iteration order, is exactly `expected`.
#[track_caller]
fn assert_values<'a>(context: &str, actual: impl IntoIterator<Item = &'a f32>, expected: &[f32]) {
    let actual: Vec<f32> = actual.into_iter().copied().collect();
    assert_eq!(actual.len(), expected.len(), "{context}: length");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        assert!(same(a, e), "{context}[{i}]: got {a:?}, expected {e:?}");
    }
}

/// Asserts that `actual` is within `1e-6` of finite `expected` values and the
/// same value where `expected` is not finite.
#[track_caller]
fn assert_near<'a>(context: &str, actual: impl IntoIterator<Item = &'a f32>, expected: &[f32]) {
    let actual: Vec<f32> = actual.into_iter().copied().collect();
    assert_eq!(actual.len(), expected.len(), "{context}: length");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let close = if e.is_finite() {
            (a - e).abs() <= 1e-6
        } else {
            same(a, e)
        };
        assert!(close, "{context}[{i}]: got {a:?}, expected {e:?}");
    }
}

// Ground rules -------------------------------------------------------------

/// Values that every family is fed at least once below.
fn specials() -> Array2<f32> {
    array![
        [NAN, INF, NEG, 0.0, -0.0],
        [1.0, -1.0, f32::MAX, f32::MIN, 1e-45]
    ]
}

/// "Nothing is checked": every kernel runs to completion on NaN and
/// infinities and returns results of the usual shapes. No value in this
/// test can make any kernel panic or return an error.
#[test]
fn no_kernel_panics_or_errs_on_non_finite_values() {
    let x = specials();
    let v = x.view();
    for y in [
        unary::abs(v),
        unary::exp(v),
        unary::log(v),
        unary::sqrt(v),
        unary::square(v),
        unary::pow(v, -0.5),
        unary::relu(v),
        unary::leaky_relu(v, 0.0),
        unary::sigmoid(v),
        unary::tanh(v),
        unary::gelu_tanh(v),
        unary::gelu_exact(v),
        unary::erf(v),
        unary::softplus(v),
        unary::clip(v, NAN, INF),
        unary::silu(v),
        unary::elu(v, 0.0),
        unary::hard_sigmoid(v, 0.0, NAN),
        elementwise::neg(v),
        softmax::softmax(v, 0),
        softmax::softmax(v, 1),
        softmax::log_softmax(v, 1),
    ] {
        assert_eq!(y.dim(), (2, 5));
    }
    let quotient: Array2<f32> = elementwise::div(v, x.slice(s![.., ..;-1]));
    let largest: Array2<f32> = binary::maximum(v, aview0(&NAN));
    let below: Array2<bool> = binary::lt(v, aview0(&INF));
    assert_eq!(
        (quotient.dim(), largest.dim(), below.dim()),
        ((2, 5), (2, 5), (2, 5))
    );
    for axes in [&[0][..], &[1], &[0, 1], &[]] {
        let sums: ndarray::ArrayD<f32> = reduce::sum(v, axes, true);
        let means: ndarray::ArrayD<f32> = reduce::mean(v, axes, true);
        let maxima: ndarray::ArrayD<f32> = reduce::max(v, axes, true);
        let minima: ndarray::ArrayD<f32> = reduce::min(v, axes, true);
        assert!(sums.ndim() == 2 && means.ndim() == 2 && maxima.ndim() == 2 && minima.ndim() == 2);
    }
    let largest_at: Array1<usize> = reduce::argmax(v, 1);
    let smallest_at: Array1<usize> = reduce::argmin(v, 0);
    assert!(largest_at.iter().all(|&i| i < 5) && smallest_at.iter().all(|&i| i < 2));
    let lse: Array1<f32> = softmax::logsumexp(v, 1, false);
    assert_eq!(lse.len(), 2);
    let labels = array![[0.5_f32, NAN, 0.0, INF, 1.0], [0.0, 1.0, NEG, 0.0, 0.0]];
    assert_eq!(loss::softmax_cross_entropy(v, labels.view()).len(), 2);
    assert!(loss::softmax_cross_entropy_mean(v, labels.view()).is_nan());
    assert!(loss::softmax_cross_entropy_indices(v, array![1, 4].view(), "y").is_ok());
    assert_eq!(loss::sigmoid_cross_entropy(v, labels.view()).dim(), (2, 5));
    assert!(loss::mse(v, labels.view()).is_nan());
    let row = x.row(0);
    let normalised = nn::layer_norm(v, row, row, NAN);
    let standardised = nn::batch_norm(v, row, row, row, row, NEG);
    let picked: Array3<f32> = nn::gather(v, array![[1, 0]].view(), "ids").expect("ids in range");
    assert_eq!(
        (normalised.dim(), standardised.dim(), picked.dim()),
        ((2, 5), (2, 5), (1, 2, 5))
    );
    let image = x
        .clone()
        .into_shape_with_order((1, 2, 5, 1))
        .expect("10 values");
    let filter = x
        .clone()
        .into_shape_with_order((2, 5, 1, 1))
        .expect("10 values");
    let same_padding = conv::Padding::Same;
    assert_eq!(
        conv::conv2d(image.view(), filter.view(), (1, 1), same_padding, (1, 1)).dim(),
        (1, 2, 5, 1)
    );
    assert_eq!(
        conv::max_pool2d(image.view(), (2, 2), (1, 1), same_padding).dim(),
        (1, 2, 5, 1)
    );
    assert_eq!(
        conv::avg_pool2d(image.view(), (2, 2), (2, 2), same_padding).dim(),
        (1, 1, 3, 1)
    );
    let w = x.t();
    for activation in [
        Activation::GeluExact,
        Activation::Clip(NAN, NAN),
        Activation::Silu,
        Activation::Elu(NAN),
        Activation::HardSigmoid(INF, NAN),
    ] {
        let mut out = Array2::zeros((2, 2));
        dense_into(v, w, Some(x.column(0)), activation, out.view_mut());
        dense_into_portable(v, w, Some(x.column(0)), activation, out.view_mut());
    }
    assert_eq!(linalg::matmul(v, w).dim(), (2, 2));
}

/// "Extrema keep NaN": elementwise, reduced, pooled and activation maxima
/// and minima all return NaN when one operand is NaN, from either side.
#[test]
fn every_extremum_keeps_nan() {
    let left = array![NAN, 1.0];
    let right = array![1.0_f32, NAN];
    let hi: Array1<f32> = binary::maximum(left.view(), right.view());
    let lo: Array1<f32> = binary::minimum(left.view(), right.view());
    assert_values("maximum", &hi, &[NAN, NAN]);
    assert_values("minimum", &lo, &[NAN, NAN]);
    for lane in [array![NAN, 1.0, 2.0], array![1.0, 2.0, NAN]] {
        let top: Array0<f32> = reduce::max(lane.view(), &[0], false);
        let bottom: Array0<f32> = reduce::min(lane.view(), &[0], false);
        assert!(top.into_scalar().is_nan() && bottom.into_scalar().is_nan());
        let image = lane
            .clone()
            .into_shape_with_order((1, 1, 3, 1))
            .expect("3 values");
        let pooled = conv::max_pool2d(image.view(), (1, 3), (1, 1), conv::Padding::Valid);
        assert!(pooled[[0, 0, 0, 0]].is_nan());
    }
    assert!(unary::relu(array![NAN].view())[0].is_nan());
    assert!(unary::clip(array![NAN].view(), 0.0, 1.0)[0].is_nan());
    assert!(Activation::Relu.apply(NAN).is_nan() && Activation::Clip(0.0, 6.0).apply(NAN).is_nan());
}

/// "IEEE-754 by default", for the arithmetic kernels and their forms.
#[test]
fn elementwise_arithmetic_is_ieee() {
    let quotient: Array1<f32> = elementwise::div(
        array![1.0_f32, -1.0, 1.0, 0.0, NAN].view(),
        array![0.0_f32, 0.0, -0.0, 0.0, 1.0].view(),
    );
    assert_values("div", &quotient, &[INF, NEG, NEG, NAN, NAN]);
    let difference: Array1<f32> =
        elementwise::sub(array![INF, INF, NEG].view(), array![INF, 1.0, INF].view());
    assert_values("sub", &difference, &[NAN, INF, NEG]);
    let product: Array1<f32> = elementwise::mul(
        array![0.0_f32, INF, NAN].view(),
        array![INF, -1.0, 0.0].view(),
    );
    assert_values("mul", &product, &[NAN, NEG, NAN]);
    let a: Array1<f32> =
        elementwise::add(array![INF, NAN, INF].view(), array![NEG, 1.0, 1.0].view());
    assert_values("add", &a, &[NAN, NAN, INF]);
    assert_values(
        "neg",
        &elementwise::neg(array![INF, NAN].view()),
        &[NEG, NAN],
    );
    let mut x = array![1.0_f32, 0.0];
    elementwise::div_inplace(x.view_mut(), aview0(&0.0));
    assert_values("div_inplace", &x, &[INF, NAN]);
    let mut out = Array1::zeros(2);
    elementwise::mul_into(array![INF, NEG].view(), aview0(&0.0), out.view_mut());
    assert_values("mul_into", &out, &[NAN, NAN]);
}

/// "One formula per function": every dense activation computes exactly what
/// the unary kernel of the same name computes, special values included.
#[test]
fn activations_match_unary_kernels() {
    let x = array![
        NAN,
        INF,
        NEG,
        0.0,
        -0.0,
        1.0,
        -1.0,
        1e4,
        -1e4,
        f32::MAX,
        f32::MIN,
        88.8,
        -88.8
    ];
    let v = x.view();
    let pairs: [(Activation, Array1<f32>); 15] = [
        (Activation::Identity, x.clone()),
        (Activation::Relu, unary::relu(v)),
        (Activation::LeakyRelu(0.1), unary::leaky_relu(v, 0.1)),
        (Activation::LeakyRelu(0.0), unary::leaky_relu(v, 0.0)),
        (Activation::Sigmoid, unary::sigmoid(v)),
        (Activation::Tanh, unary::tanh(v)),
        (Activation::GeluTanh, unary::gelu_tanh(v)),
        (Activation::GeluExact, unary::gelu_exact(v)),
        (Activation::Softplus, unary::softplus(v)),
        (Activation::Clip(-1.0, 2.0), unary::clip(v, -1.0, 2.0)),
        (Activation::Silu, unary::silu(v)),
        (Activation::Elu(1.0), unary::elu(v, 1.0)),
        (Activation::Elu(0.0), unary::elu(v, 0.0)),
        (
            Activation::HardSigmoid(0.2, 0.5),
            unary::hard_sigmoid(v, 0.2, 0.5),
        ),
        (
            Activation::HardSigmoid(0.0, 0.5),
            unary::hard_sigmoid(v, 0.0, 0.5),
        ),
    ];
    for (activation, expected) in pairs {
        let applied = x.mapv(|value| activation.apply(value));
        assert_values(
            &format!("{activation:?}"),
            &applied,
            expected.as_slice().expect("contiguous"),
        );
    }
}

// One-operand functions ----------------------------------------------------

/// The NaN, `+inf` and `-inf` columns of the unary table.
#[test]
fn unary_table() {
    let x = array![NAN, INF, NEG];
    let v = x.view();
    let rows: [(&str, Array1<f32>, [f32; 3]); 22] = [
        ("abs", unary::abs(v), [NAN, INF, INF]),
        ("exp", unary::exp(v), [NAN, INF, 0.0]),
        ("log", unary::log(v), [NAN, INF, NAN]),
        ("sqrt", unary::sqrt(v), [NAN, INF, NAN]),
        ("square", unary::square(v), [NAN, INF, INF]),
        ("pow 2", unary::pow(v, 2.0), [NAN, INF, INF]),
        ("pow 3", unary::pow(v, 3.0), [NAN, INF, NEG]),
        ("pow -1", unary::pow(v, -1.0), [NAN, 0.0, -0.0]),
        ("relu", unary::relu(v), [NAN, INF, 0.0]),
        ("leaky_relu", unary::leaky_relu(v, 0.1), [NAN, INF, NEG]),
        ("sigmoid", unary::sigmoid(v), [NAN, 1.0, 0.0]),
        ("tanh", unary::tanh(v), [NAN, 1.0, -1.0]),
        ("erf", unary::erf(v), [NAN, 1.0, -1.0]),
        ("softplus", unary::softplus(v), [NAN, INF, 0.0]),
        ("gelu_tanh", unary::gelu_tanh(v), [NAN, INF, NAN]),
        ("gelu_exact", unary::gelu_exact(v), [NAN, INF, NAN]),
        ("clip", unary::clip(v, -1.0, 2.0), [NAN, 2.0, -1.0]),
        ("silu", unary::silu(v), [NAN, INF, NAN]),
        ("elu", unary::elu(v, 1.5), [NAN, INF, -1.5]),
        (
            "hard_sigmoid",
            unary::hard_sigmoid(v, 0.2, 0.5),
            [NAN, 1.0, 0.0],
        ),
        (
            "hard_sigmoid α = 0",
            unary::hard_sigmoid(v, 0.0, 0.5),
            [NAN, NAN, NAN],
        ),
        ("neg", elementwise::neg(v), [NAN, NEG, INF]),
    ];
    for (name, actual, expected) in rows {
        assert_values(name, &actual, &expected);
    }
    // The `_inplace` and `_into` forms map the same function.
    let mut y = x.clone();
    unary::gelu_exact_inplace(y.view_mut());
    assert_values("gelu_exact_inplace", &y, &[NAN, INF, NAN]);
    let mut out = Array1::zeros(3);
    unary::leaky_relu_into(v, 0.0, out.view_mut());
    assert_values("leaky_relu_into", &out, &[NAN, INF, NAN]);
}

/// The last column of the unary table: finite inputs with special results.
#[test]
fn unary_special_finite_inputs() {
    let e = unary::exp(array![88.0_f32, 89.0].view());
    assert!(
        e[0].is_finite() && e[1] == INF,
        "exp overflows between 88 and 89: {e}"
    );
    assert_values(
        "log",
        &unary::log(array![0.0_f32, -0.0, -1.0].view()),
        &[NEG, NEG, NAN],
    );
    assert_values(
        "sqrt",
        &unary::sqrt(array![-0.0_f32, -1.0].view()),
        &[-0.0, NAN],
    );
    let extremes = array![f32::MIN, -1e4, 1e4, f32::MAX];
    assert_values(
        "sigmoid",
        &unary::sigmoid(extremes.view()),
        &[0.0, 0.0, 1.0, 1.0],
    );
    assert_values(
        "softplus",
        &unary::softplus(extremes.view()),
        &[0.0, 0.0, 1e4, f32::MAX],
    );
}

/// `pow(NaN, 0) = 1` and `pow(1, NaN) = 1`: the two exceptions to "NaN in,
/// NaN out", plus the other IEEE `pow` cases in the table.
#[test]
fn pow_follows_ieee_and_can_drop_nan() {
    assert_values(
        "pow(NaN, 0)",
        &unary::pow(array![NAN, INF, NEG].view(), 0.0),
        &[1.0, 1.0, 1.0],
    );
    assert_values(
        "pow(x, NaN)",
        &unary::pow(array![1.0_f32, 2.0, 0.0].view(), NAN),
        &[1.0, NAN, NAN],
    );
    assert_values(
        "pow(-8, 1/3)",
        &unary::pow(array![-8.0_f32].view(), 1.0 / 3.0),
        &[NAN],
    );
    assert_values(
        "pow(±0, -1)",
        &unary::pow(array![0.0_f32, -0.0].view(), -1.0),
        &[INF, NEG],
    );
}

#[test]
fn leaky_relu_with_zero_slope_turns_minus_infinity_into_nan() {
    assert_values("relu", &unary::relu(array![NEG].view()), &[0.0]);
    assert_values(
        "leaky 0",
        &unary::leaky_relu(array![NEG, -1.0].view(), 0.0),
        &[NAN, -0.0],
    );
    assert_values(
        "leaky 0.5",
        &unary::leaky_relu(array![NEG, -1.0].view(), 0.5),
        &[NEG, -0.5],
    );
}

/// GELU is NaN at `-inf` (`-inf · 0`), though very negative finite inputs
/// give `-0`.
#[test]
fn gelu_at_minus_infinity_is_nan() {
    let x = array![NEG, f32::MIN, -1e30, -1e4];
    assert_values(
        "gelu_tanh",
        &unary::gelu_tanh(x.view()),
        &[NAN, -0.0, -0.0, -0.0],
    );
    assert_values(
        "gelu_exact",
        &unary::gelu_exact(x.view()),
        &[NAN, -0.0, -0.0, -0.0],
    );
}

/// `silu` is NaN at `-inf` (`-inf · σ(-inf) = -inf · 0`), like the GELUs,
/// though very negative finite inputs give `-0`.
#[test]
fn silu_at_minus_infinity_is_nan() {
    let x = array![NEG, f32::MIN, -1e30, -1e4, -105.0];
    assert_values(
        "silu",
        &unary::silu(x.view()),
        &[NAN, -0.0, -0.0, -0.0, -0.0],
    );
}

/// ELU never turns an infinity into NaN: `-inf` gives `-α` (`-0` for
/// `α = 0`), and `-0` gives `-0`.
#[test]
fn elu_saturates_at_minus_alpha() {
    assert_values(
        "elu 1",
        &unary::elu(array![NEG, f32::MIN, -0.0, 0.0].view(), 1.0),
        &[-1.0, -1.0, -0.0, 0.0],
    );
    assert_values(
        "elu 0",
        &unary::elu(array![NEG, -1.0, INF].view(), 0.0),
        &[-0.0, -0.0, INF],
    );
}

/// The hard sigmoid clamps `α·x + β` into `[0, 1]` keeping NaN, so
/// infinities saturate unless `α = 0` (`0 · ±inf = NaN`), and huge finite
/// inputs saturate too.
#[test]
fn hard_sigmoid_saturates_unless_the_slope_is_zero() {
    let x = array![NEG, f32::MIN, f32::MAX, INF];
    assert_values(
        "hard_sigmoid 0.2 0.5",
        &unary::hard_sigmoid(x.view(), 0.2, 0.5),
        &[0.0, 0.0, 1.0, 1.0],
    );
    assert_values(
        "hard_sigmoid -0.5 0.5",
        &unary::hard_sigmoid(x.view(), -0.5, 0.5),
        &[1.0, 1.0, 0.0, 0.0],
    );
    assert_values(
        "hard_sigmoid 0 0.5",
        &unary::hard_sigmoid(x.view(), 0.0, 0.5),
        &[NAN, 0.5, 0.5, NAN],
    );
    // A NaN parameter gives NaN everywhere, as in `α·x + β`.
    assert_values(
        "hard_sigmoid NaN β",
        &unary::hard_sigmoid(array![1.0_f32].view(), 0.2, NAN),
        &[NAN],
    );
}

/// A NaN bound of `clip` is ignored; infinities clamp to the bounds.
#[test]
fn clip_ignores_nan_bounds() {
    let x = array![5.0_f32, -5.0, NAN, INF, NEG];
    assert_values(
        "both NaN",
        &unary::clip(x.view(), NAN, NAN),
        &[5.0, -5.0, NAN, INF, NEG],
    );
    assert_values(
        "lo NaN",
        &unary::clip(x.view(), NAN, 1.0),
        &[1.0, -5.0, NAN, 1.0, NEG],
    );
    assert_values(
        "hi NaN",
        &unary::clip(x.view(), 0.0, NAN),
        &[5.0, 0.0, NAN, INF, 0.0],
    );
    assert_values(
        "finite",
        &unary::clip(x.view(), 0.0, 1.0),
        &[1.0, 0.0, NAN, 1.0, 0.0],
    );
}

// Extrema, comparisons and selection ---------------------------------------

#[test]
fn maximum_and_minimum_order_infinities() {
    let a = array![NEG, INF, NEG, 3.0];
    let b = array![2.0_f32, 2.0, INF, NEG];
    let hi: Array1<f32> = binary::maximum(a.view(), b.view());
    let lo: Array1<f32> = binary::minimum(a.view(), b.view());
    assert_values("maximum", &hi, &[2.0, INF, INF, 3.0]);
    assert_values("minimum", &lo, &[NEG, 2.0, NEG, NEG]);
    let mut out = Array1::zeros(4);
    binary::maximum_into(a.view(), aview0(&NAN), out.view_mut());
    assert_values("maximum_into", &out, &[NAN; 4]);
}

#[test]
fn comparisons_with_nan_are_false() {
    let a = array![NAN, NAN, 1.0, INF, NEG, INF];
    let b = array![NAN, 1.0, NAN, INF, NEG, f32::MAX];
    let gt: Array1<bool> = binary::gt(a.view(), b.view());
    let ge: Array1<bool> = binary::ge(a.view(), b.view());
    let lt: Array1<bool> = binary::lt(a.view(), b.view());
    let le: Array1<bool> = binary::le(a.view(), b.view());
    let eq: Array1<bool> = binary::eq(a.view(), b.view());
    assert_eq!(gt, array![false, false, false, false, false, true]);
    assert_eq!(ge, array![false, false, false, true, true, true]);
    assert_eq!(lt, array![false, false, false, false, false, false]);
    assert_eq!(le, array![false, false, false, true, true, false]);
    assert_eq!(eq, array![false, false, false, true, true, false]);
}

#[test]
fn select_never_leaks_the_other_operand() {
    let mask = array![true, false, true, false];
    let a = array![1.0_f32, NAN, INF, NEG];
    let b = array![NAN, 2.0, NAN, 3.0];
    let chosen: Array1<f32> = binary::select(mask.view(), a.view(), b.view());
    assert_values("select", &chosen, &[1.0, 2.0, INF, 3.0]);
    // The arithmetic blend of the same operands is poisoned by `0 · inf`
    // and `0 · NaN`.
    let m = array![1.0_f32, 0.0, 1.0, 0.0];
    let not_m = array![0.0_f32, 1.0, 0.0, 1.0];
    let left: Array1<f32> = elementwise::mul(m.view(), a.view());
    let right: Array1<f32> = elementwise::mul(not_m.view(), b.view());
    let blend: Array1<f32> = elementwise::add(left.view(), right.view());
    assert_values("blend", &blend, &[NAN; 4]);
}

// Reductions ---------------------------------------------------------------

#[test]
fn reductions_propagate_nan_within_their_block() {
    let x = array![[1.0_f32, NAN, 3.0], [4.0, 5.0, 6.0]];
    let sum: Array1<f32> = reduce::sum(x.view(), &[1], false);
    let mean: Array1<f32> = reduce::mean(x.view(), &[1], false);
    let max: Array1<f32> = reduce::max(x.view(), &[1], false);
    let min: Array1<f32> = reduce::min(x.view(), &[1], false);
    assert_values("sum", &sum, &[NAN, 15.0]);
    assert_values("mean", &mean, &[NAN, 5.0]);
    assert_values("max", &max, &[NAN, 6.0]);
    assert_values("min", &min, &[NAN, 4.0]);
    let columns: Array1<f32> = reduce::sum(x.t(), &[1], false);
    assert_values("sum of x.t()", &columns, &[5.0, NAN, 9.0]);
}

#[test]
fn reductions_with_infinities() {
    let x = array![
        [INF, NEG, 1.0],
        [INF, 1.0, 2.0],
        [NEG, NEG, NEG],
        [INF, INF, INF]
    ];
    let sum: Array1<f32> = reduce::sum(x.view(), &[1], false);
    let mean: Array1<f32> = reduce::mean(x.view(), &[1], false);
    let max: Array1<f32> = reduce::max(x.view(), &[1], false);
    let min: Array1<f32> = reduce::min(x.view(), &[1], false);
    assert_values("sum", &sum, &[NAN, INF, NEG, INF]);
    assert_values("mean", &mean, &[NAN, INF, NEG, INF]);
    assert_values("max", &max, &[INF, INF, NEG, INF]);
    assert_values("min", &min, &[NEG, 1.0, NEG, INF]);
}

#[test]
fn empty_reduced_axes() {
    let x = Array2::<f32>::zeros((2, 0));
    let sum: Array1<f32> = reduce::sum(x.view(), &[1], false);
    let mean: Array1<f32> = reduce::mean(x.view(), &[1], false);
    let max: Array1<f32> = reduce::max(x.view(), &[1], false);
    let min: Array1<f32> = reduce::min(x.view(), &[1], false);
    assert_values("sum", &sum, &[0.0, 0.0]);
    assert_values("mean", &mean, &[NAN, NAN]);
    assert_values("max", &max, &[NEG, NEG]);
    assert_values("min", &min, &[INF, INF]);
}

#[test]
#[should_panic(expected = "kernel `argmax`")]
fn argmax_of_an_empty_axis_is_a_shape_error() {
    let _: Array1<usize> = reduce::argmax(Array2::<f32>::zeros((2, 0)).view(), 1);
}

/// `sum` and `mean` accumulate in `f64`: partial sums beyond `f32::MAX` do
/// not overflow, in any order; only a final result beyond it does.
#[test]
fn sums_accumulate_in_f64() {
    let big = 3e38_f32;
    for lane in [
        array![big, big, -big],
        array![big, -big, big],
        array![-big, big, big],
    ] {
        let total: Array0<f32> = reduce::sum(lane.view(), &[0], false);
        assert_eq!(total.into_scalar(), big, "sum of {lane}");
    }
    let pair = array![big, big];
    let mean: Array0<f32> = reduce::mean(pair.view(), &[0], false);
    let total: Array0<f32> = reduce::sum(pair.view(), &[0], false);
    assert_eq!((mean.into_scalar(), total.into_scalar()), (big, INF));
}

#[test]
fn argmax_and_argmin_pick_the_first_nan() {
    let x = array![
        [1.0_f32, NAN, 5.0, NAN],
        [NAN, 1.0, 2.0, 3.0],
        [1.0, INF, NEG, 2.0],
        [NEG, NEG, NEG, NEG],
        [INF, INF, INF, INF]
    ];
    let largest: Array1<usize> = reduce::argmax(x.view(), 1);
    let smallest: Array1<usize> = reduce::argmin(x.view(), 1);
    assert_eq!(largest, array![1, 0, 1, 0, 0]);
    assert_eq!(smallest, array![1, 0, 2, 0, 0]);
    // The same lanes as columns.
    let by_column: Array1<usize> = reduce::argmax(x.t(), 0);
    assert_eq!(by_column, largest);
}

// Softmax family -----------------------------------------------------------

/// Every lane kind of the softmax table, as rows and as columns, in the
/// allocating, `_into` and `_inplace` forms.
#[test]
fn softmax_table() {
    let ln2 = 2.0_f32.ln();
    let x = array![
        [0.0_f32, NEG, 0.0],
        [NEG, 0.0, NEG],
        [INF, 0.0, NEG],
        [NEG, NEG, NEG],
        [1.0, NAN, INF],
        [1.0, 2.0, 3.0]
    ];
    let p = softmax::softmax(x.view(), 1);
    let l = softmax::log_softmax(x.view(), 1);
    let lse: Array1<f32> = softmax::logsumexp(x.view(), 1, false);
    assert_values("softmax, -inf", p.row(0), &[0.5, 0.0, 0.5]);
    assert_values("log_softmax, -inf", l.row(0), &[-ln2, NEG, -ln2]);
    assert_values("softmax, one finite", p.row(1), &[0.0, 1.0, 0.0]);
    assert_values("log_softmax, one finite", l.row(1), &[NEG, 0.0, NEG]);
    for row in 2..5 {
        assert_values(&format!("softmax row {row}"), p.row(row), &[NAN; 3]);
        assert_values(&format!("log_softmax row {row}"), l.row(row), &[NAN; 3]);
    }
    assert_values("logsumexp", lse.slice(s![..5]), &[ln2, 0.0, INF, NEG, NAN]);
    // The finite lane is untouched by its neighbours.
    let total: f32 = p.row(5).sum();
    assert!((total - 1.0).abs() < 1e-6 && l.row(5).iter().all(|v| v.is_finite()));
    assert!(lse[5].is_finite());
    // Columns of x.t() are the rows of x.
    assert_values(
        "softmax of x.t()",
        softmax::softmax(x.t(), 0).t(),
        p.as_slice().expect("standard"),
    );
    let mut into = Array2::zeros((6, 3));
    softmax::log_softmax_into(x.view(), 1, into.view_mut());
    assert_values("log_softmax_into", &into, l.as_slice().expect("standard"));
    let mut inplace = x.clone();
    softmax::softmax_inplace(inplace.view_mut(), 1);
    assert_values("softmax_inplace", &inplace, p.as_slice().expect("standard"));
    let mut inplace = x.clone();
    softmax::log_softmax_inplace(inplace.view_mut(), 1);
    assert_values(
        "log_softmax_inplace",
        &inplace,
        l.as_slice().expect("standard"),
    );
}

#[test]
fn logsumexp_nan_beats_infinity_and_empty_lanes_give_minus_infinity() {
    let x = array![[INF, NAN], [NAN, INF], [INF, NEG]];
    let lse: Array1<f32> = softmax::logsumexp(x.view(), 1, false);
    assert_values("logsumexp", &lse, &[NAN, NAN, INF]);
    let empty = Array2::<f32>::zeros((2, 0));
    let e: Array2<f32> = softmax::logsumexp(empty.view(), 1, true);
    assert_values("empty", &e, &[NEG, NEG]);
    assert_eq!(softmax::softmax(empty.view(), 1).dim(), (2, 0));
    assert_eq!(softmax::log_softmax(empty.view(), 1).dim(), (2, 0));
}

/// "Large finite logits stay finite", with exact values, and the point at
/// which the shift itself overflows.
#[test]
fn logits_of_magnitude_1e4_stay_finite() {
    let x = array![[1e4_f32, -1e4, 0.0], [1e4, 1e4, -1e4]];
    let p = softmax::softmax(x.view(), 1);
    let l = softmax::log_softmax(x.view(), 1);
    let lse: Array1<f32> = softmax::logsumexp(x.view(), 1, false);
    assert_values("softmax", &p, &[1.0, 0.0, 0.0, 0.5, 0.5, 0.0]);
    let ln2 = 2.0_f32.ln();
    assert_values(
        "log_softmax",
        &l,
        &[0.0, -2e4, -1e4, -ln2, -ln2, -2e4 - ln2],
    );
    assert_values("logsumexp", &lse, &[1e4, 1e4 + ln2]);
    let by_index = loss::softmax_cross_entropy_indices(x.view(), array![1, 2].view(), "y");
    assert_eq!(by_index, Ok(array![2e4, 2e4 + ln2]));
    let one_hot = array![[0.0_f32, 1.0, 0.0], [0.0, 0.0, 1.0]];
    assert_values(
        "cross-entropy",
        &loss::softmax_cross_entropy(x.view(), one_hot.view()),
        &[2e4, 2e4 + ln2],
    );
    let huge = array![3e38_f32, -3e38];
    assert_values(
        "softmax at 3e38",
        &softmax::softmax(huge.view(), 0),
        &[1.0, 0.0],
    );
    assert_values(
        "log_softmax at 3e38",
        &softmax::log_softmax(huge.view(), 0),
        &[0.0, NEG],
    );
}

// Losses -------------------------------------------------------------------

#[test]
fn mse_with_non_finite_values() {
    let cases = [
        (array![1.0_f32, NAN], array![1.0_f32, 1.0], NAN),
        (array![INF, 1.0], array![1.0, 1.0], INF),
        (array![INF, 1.0], array![INF, 1.0], NAN),
        (array![INF, 1.0], array![NEG, 1.0], INF),
    ];
    for (pred, target, expected) in cases {
        let actual = loss::mse(pred.view(), target.view());
        assert!(same(actual, expected), "mse({pred}, {target}) = {actual}");
    }
    let none = Array1::<f32>::zeros(0);
    assert!(loss::mse(none.view(), none.view()).is_nan());
}

#[test]
fn softmax_cross_entropy_with_probability_labels() {
    let logits = array![
        [NEG, 0.0],
        [NAN, 0.0],
        [NEG, 0.0],
        [0.0, 0.0],
        [INF, 0.0],
        [NEG, NEG],
        [NAN, 0.0]
    ];
    let labels = array![
        [0.0_f32, 1.0],
        [0.0, 0.0],
        [1.0, 0.0],
        [NAN, 0.0],
        [0.0, 1.0],
        [1.0, 0.0],
        [0.0, 1.0]
    ];
    let per_example = loss::softmax_cross_entropy(logits.view(), labels.view());
    assert_values(
        "per example",
        &per_example,
        &[0.0, 0.0, INF, NAN, NAN, NAN, NAN],
    );
}

#[test]
fn softmax_cross_entropy_with_class_indices() {
    let logits = array![
        [NAN, 0.0],
        [INF, 0.0],
        [INF, 0.0],
        [NEG, NEG],
        [NEG, 0.0],
        [NEG, 0.0]
    ];
    let labels = array![1, 1, 0, 0, 0, 1];
    let per_example = loss::softmax_cross_entropy_indices(logits.view(), labels.view(), "y")
        .expect("labels in range");
    assert_values("per example", &per_example, &[NAN, NAN, NAN, NAN, INF, 0.0]);
}

#[test]
fn sigmoid_cross_entropy_with_infinite_logits() {
    let logits = array![INF, INF, INF, NEG, NEG, NEG, NAN, 0.0, 1e4, 1e4, -1e4, -1e4, 1e4];
    let labels = array![1.0_f32, 0.0, 0.5, 1.0, 0.5, 0.0, 1.0, NAN, 1.0, 0.0, 1.0, 0.0, 0.5];
    let out = loss::sigmoid_cross_entropy(logits.view(), labels.view());
    assert_values(
        "sigmoid_cross_entropy",
        &out,
        &[
            NAN, NAN, NAN, INF, INF, NAN, NAN, NAN, 0.0, 1e4, 1e4, 0.0, 5e3,
        ],
    );
}

#[test]
fn loss_means() {
    let ln2 = 2.0_f32.ln();
    let logits = array![[NEG, 0.0], [0.0, 0.0]];
    let labels = array![[1.0_f32, 0.0], [1.0, 0.0]];
    assert_eq!(
        loss::softmax_cross_entropy_mean(logits.view(), labels.view()),
        INF
    );
    let nan_row = array![[NEG, 0.0], [NAN, 0.0]];
    assert!(loss::softmax_cross_entropy_mean(nan_row.view(), labels.view()).is_nan());
    let indices = array![0, 0];
    assert_eq!(
        loss::softmax_cross_entropy_indices_mean(logits.view(), indices.view(), "y"),
        Ok(INF)
    );
    let finite = array![[0.0_f32, 0.0], [0.0, 0.0]];
    assert_eq!(
        loss::softmax_cross_entropy_indices_mean(finite.view(), indices.view(), "y"),
        Ok(ln2)
    );
    let nan_mean = loss::softmax_cross_entropy_indices_mean(nan_row.view(), indices.view(), "y");
    assert!(nan_mean.expect("labels in range").is_nan());
    let empty = Array2::<f32>::zeros((0, 2));
    assert!(loss::softmax_cross_entropy_mean(empty.view(), empty.view()).is_nan());
    let no_labels = Array1::<usize>::zeros(0);
    let empty_mean = loss::softmax_cross_entropy_indices_mean(empty.view(), no_labels.view(), "y");
    assert!(empty_mean.expect("no labels").is_nan());
}

// Normalisation and gather -------------------------------------------------

#[test]
fn layer_norm_with_non_finite_lanes() {
    let ones = array![1.0_f32, 1.0, 1.0];
    let zeros = array![0.0_f32, 0.0, 0.0];
    let x = array![
        [NAN, 1.0, 2.0],
        [INF, 1.0, 2.0],
        [NEG, 1.0, 2.0],
        [1.0, 2.0, 3.0]
    ];
    let y = nn::layer_norm(x.view(), ones.view(), zeros.view(), 0.0);
    for lane in 0..3 {
        assert_values(&format!("lane {lane}"), y.row(lane), &[NAN; 3]);
    }
    // (v − 2) / √(2/3) for v = 1, 2, 3.
    let z = 1.5_f32.sqrt();
    assert_near("finite lane", y.row(3), &[-z, 0.0, z]);
    let gamma = array![1.0_f32, NAN, 1.0];
    let beta = array![0.0_f32, 0.0, NAN];
    let y = nn::layer_norm(x.slice(s![3.., ..]), gamma.view(), beta.view(), 0.0);
    assert_near("NaN parameters", &y, &[-z, NAN, NAN]);
    let huge = nn::layer_norm(
        array![[3e38_f32, -3e38]].view(),
        array![1.0_f32, 1.0].view(),
        array![0.0_f32, 0.0].view(),
        0.0,
    );
    assert_values("huge lane", &huge, &[1.0, -1.0]);
    let constant = array![[5.0_f32, 5.0]];
    let (gain, bias) = (array![1.0_f32, 1.0], array![0.0_f32, 0.5]);
    assert_values(
        "constant, ε = 0",
        &nn::layer_norm(constant.view(), gain.view(), bias.view(), 0.0),
        &[NAN, NAN],
    );
    assert_values(
        "constant, ε > 0",
        &nn::layer_norm(constant.view(), gain.view(), bias.view(), 1e-5),
        &[0.0, 0.5],
    );
}

/// `batch_norm(x, mean, variance, scale, offset, ε)` for one row per case.
fn batch_norm_rows(x: &Array2<f32>, parameters: [&Array1<f32>; 4], epsilon: f32) -> Array2<f32> {
    let [mean, variance, scale, offset] = parameters;
    nn::batch_norm(
        x.view(),
        mean.view(),
        variance.view(),
        scale.view(),
        offset.view(),
        epsilon,
    )
}

#[test]
fn batch_norm_with_non_finite_values() {
    let (zeros, ones) = (Array1::zeros(3), Array1::ones(3));
    let x = array![[NAN, 1.0, INF], [2.0, 3.0, NEG]];
    let y = batch_norm_rows(&x, [&zeros, &ones, &ones, &zeros], 0.0);
    assert_values(
        "NaN and infinite inputs",
        &y,
        &[NAN, 1.0, INF, 2.0, 3.0, NEG],
    );
    // One NaN parameter per channel: mean, variance, scale, offset.
    let finite = array![[1.0_f32, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]];
    let mean = array![NAN, 0.0, 0.0, 0.0];
    let variance = array![1.0_f32, NAN, 1.0, 1.0];
    let scale = array![1.0_f32, 1.0, NAN, 1.0];
    let offset = array![0.0_f32, 0.0, 0.0, NAN];
    let y = batch_norm_rows(&finite, [&mean, &variance, &scale, &offset], 0.0);
    assert_values("NaN parameters", &y, &[NAN; 8]);
    // Gains g = −1 and g = 0 on infinite inputs.
    let x = array![[INF, INF, NEG]];
    let scale = array![-1.0_f32, 0.0, -1.0];
    let y = batch_norm_rows(&x, [&zeros, &ones, &scale, &zeros], 0.0);
    assert_values("signed gains", &y, &[NEG, NAN, INF]);
    // variance + ε = 0: g = +inf.
    let x = array![[1.0_f32], [2.0], [0.0]];
    let (one, zero) = (array![1.0_f32], array![0.0_f32]);
    let y = batch_norm_rows(&x, [&one, &zero, &one, &zero], 0.0);
    assert_values("zero variance", &y, &[NAN, INF, NEG]);
    let y = batch_norm_rows(&x, [&one, &array![-1.0_f32], &one, &zero], 0.5);
    assert_values("negative variance + ε", &y, &[NAN, NAN, NAN]);
}

#[test]
fn dropout_copies_bits_or_zeroes() {
    let payload = f32::from_bits(0x7fc0_1234);
    let x = array![[payload, INF, NEG, -0.0]];
    let mut copy = Array2::zeros((1, 4));
    dropout::identity_into(x.view(), copy.view_mut());
    let bits = |a: &Array2<f32>| a.iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
    assert_eq!(bits(&copy), bits(&x));
    // In a step: every element kept at rate 0 (times s = 1), dropped at a
    // rate just below 1 (each draw is below (1 − 2⁻²⁴)·2²⁴ but one in 2²⁴).
    let specials = Array2::from_shape_fn((1, 64), |(_, j)| [NAN, INF, NEG, 2.0][j % 4]);
    let (zero, low) = (aview0(&0.0_f32), aview0(&3.0_f32));
    let mut kept = Array2::zeros((1, 64));
    dropout::dropout_into(specials.view(), low, zero, 0.0, 9, 0, kept.view_mut());
    assert_values("rate 0", &kept, specials.as_slice().expect("contiguous"));
    let mut dropped = Array2::zeros((1, 64));
    let rate = 1.0 - f32::EPSILON / 2.0;
    dropout::dropout_into(specials.view(), low, zero, rate, 9, 0, dropped.view_mut());
    assert_values("rate near 1", &dropped, &[0.0; 64]);
    // At rate 0.5 (s = 2) some of each are kept, with their sign, and the
    // others are 0.
    let mut half = Array2::zeros((1, 64));
    dropout::dropout_into(specials.view(), low, zero, 0.5, 9, 0, half.view_mut());
    for (i, (&y, &x)) in half.iter().zip(&specials).enumerate() {
        assert!(
            same(y, 0.0) || same(y, x * 2.0),
            "element {i}: {x} gave {y}"
        );
    }
    for special in [NAN, INF, NEG] {
        let survivors = half
            .iter()
            .zip(&specials)
            .filter(|(y, x)| same(**x, special) && same(**y, special));
        assert!(survivors.count() > 0, "no {special} kept");
    }
    assert!(half.iter().any(|&y| same(y, 0.0)));
}

#[test]
fn gather_copies_bits() {
    let payload = f32::from_bits(0x7fc0_1234);
    let table = array![[payload, INF], [NEG, -0.0]];
    let rows: Array2<f32> =
        nn::gather(table.view(), array![1, 0].view(), "ids").expect("ids in range");
    let bits: Vec<u32> = rows.iter().map(|v| v.to_bits()).collect();
    assert_eq!(
        bits,
        [
            NEG.to_bits(),
            (-0.0_f32).to_bits(),
            0x7fc0_1234,
            INF.to_bits()
        ]
    );
}

// Convolution and pooling --------------------------------------------------

/// A `[1, height, width, 1]` image from row-major values.
fn image(height: usize, width: usize, values: Vec<f32>) -> Array4<f32> {
    Array4::from_shape_vec((1, height, width, 1), values).expect("height · width values")
}

#[test]
fn conv2d_propagates_inside_the_image() {
    let mut x = image(3, 3, vec![1.0; 9]);
    x[[0, 0, 0, 0]] = NAN;
    let ones = Array4::from_elem((2, 2, 1, 1), 1.0_f32);
    let y = conv::conv2d(x.view(), ones.view(), (1, 1), conv::Padding::Valid, (1, 1));
    assert_values("NaN pixel", &y, &[NAN, 4.0, 4.0, 4.0]);
    let x = image(1, 2, vec![INF, 1.0]);
    for (weights, expected) in [([0.0_f32, 1.0], NAN), ([2.0, 1.0], INF), ([-2.0, 1.0], NEG)] {
        let filter = Array4::from_shape_vec((1, 2, 1, 1), weights.to_vec()).expect("2 weights");
        let y = conv::conv2d(
            x.view(),
            filter.view(),
            (1, 1),
            conv::Padding::Valid,
            (1, 1),
        );
        assert_values(&format!("weights {weights:?}"), &y, &[expected]);
    }
}

/// Filter taps that fall on padding are skipped, so their NaN or infinite
/// weights reach only the outputs where they land inside the image.
#[test]
fn conv2d_skips_taps_on_padding() {
    let mut filter = Array4::from_elem((3, 3, 1, 1), 1.0_f32);
    filter[[0, 0, 0, 0]] = NAN;
    filter[[2, 2, 0, 0]] = INF;
    let pixel = image(1, 1, vec![2.0]);
    let y = conv::conv2d(
        pixel.view(),
        filter.view(),
        (1, 1),
        conv::Padding::Same,
        (1, 1),
    );
    assert_values("only the centre tap", &y, &[2.0]);
    let full = image(3, 3, vec![1.0; 9]);
    let y = conv::conv2d(
        full.view(),
        filter.view(),
        (1, 1),
        conv::Padding::Valid,
        (1, 1),
    );
    assert_values("every tap inside", &y, &[NAN]);
    // 2x2 image, 2x2 filter, SAME: padding (0, 1) per axis, so tap (1, 1)
    // lands inside the image for output (0, 0) only.
    let mut filter = Array4::from_elem((2, 2, 1, 1), 1.0_f32);
    filter[[1, 1, 0, 0]] = NAN;
    let x = image(2, 2, vec![1.0; 4]);
    let y = conv::conv2d(x.view(), filter.view(), (1, 1), conv::Padding::Same, (1, 1));
    assert_values("border outputs", &y, &[NAN, 2.0, 2.0, 1.0]);
}

#[test]
fn max_pool_with_non_finite_values() {
    let x = image(1, 6, vec![NAN, 1.0, NEG, NEG, 1.0, INF]);
    let y = conv::max_pool2d(x.view(), (1, 2), (1, 2), conv::Padding::Valid);
    assert_values("windows", &y, &[NAN, NEG, INF]);
    // The last window holds one pixel and padding: padding never wins.
    let x = image(1, 3, vec![NEG, NEG, NEG]);
    let y = conv::max_pool2d(x.view(), (1, 2), (1, 2), conv::Padding::Same);
    assert_values("padded", &y, &[NEG, NEG]);
}

#[test]
fn avg_pool_with_non_finite_values() {
    let x = image(1, 8, vec![NAN, 1.0, INF, NEG, INF, 1.0, 3.0, 5.0]);
    let y = conv::avg_pool2d(x.view(), (1, 2), (1, 2), conv::Padding::Valid);
    assert_values("windows", &y, &[NAN, NAN, INF, 4.0]);
    let x = image(1, 3, vec![1.0, 2.0, NEG]);
    let y = conv::avg_pool2d(x.view(), (1, 2), (1, 2), conv::Padding::Same);
    assert_values("padded", &y, &[1.5, NEG]);
}

// Matrix products ----------------------------------------------------------

/// `x` (4 × 4) and `w` (4 × 9) for the product tests, and `x·w` worked out
/// by hand. Nine columns put the AVX2 tile kernel on its masked path.
fn product_operands() -> (Array2<f32>, Array2<f32>, Array2<f32>) {
    let x = array![
        [1.0_f32, 1.0, 1.0, 1.0],
        [NAN, 0.0, 0.0, 0.0],
        [INF, 0.0, 0.0, 0.0],
        [1.0, 2.0, 0.0, 0.0]
    ];
    let w = array![
        [1.0_f32, -1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        [0.0, 0.0, 0.0, INF, NEG, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, NEG, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, NAN]
    ];
    // Column 3 meets +inf and -inf, or 0 · inf; column 4 meets -inf, or
    // 0 · -inf; column 8 meets NaN (times 1 or 0). Row 1 is NaN throughout,
    // and row 2 is ±inf where w[0, j] ≠ 0 and NaN where it is 0.
    let expected = array![
        [1.0_f32, -1.0, 0.0, NAN, NEG, 1.0, 1.0, 1.0, NAN],
        [NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
        [INF, NEG, NAN, NAN, NAN, INF, INF, INF, NAN],
        [1.0, -1.0, 0.0, NAN, NEG, 1.0, 1.0, 1.0, NAN]
    ];
    (x, w, expected)
}

type Kernel = fn(
    ArrayView2<'_, f32>,
    ArrayView2<'_, f32>,
    Option<ndarray::ArrayView1<'_, f32>>,
    Activation,
    ArrayViewMut2<'_, f32>,
);

const KERNELS: [(&str, Kernel); 2] = [
    ("dispatching", dense_into as Kernel),
    ("portable", dense_into_portable as Kernel),
];

/// `a` with the same values stored column-major (its transpose in memory).
fn column_major(a: &Array2<f32>) -> Array2<f32> {
    a.t().as_standard_layout().into_owned().reversed_axes()
}

/// Runs `kernel` on `x`, `w` with every layout that selects a different
/// kernel (AVX2 tiles, AVX2 dot products, portable row-major, portable
/// dot products, the strided fallback) and checks each result.
fn check_layouts(
    context: &str,
    (x, w): (&Array2<f32>, &Array2<f32>),
    bias: Option<&Array1<f32>>,
    activation: Activation,
    expected: &Array2<f32>,
) {
    let (m, n) = expected.dim();
    // Every other column of a twice-as-wide matrix: column stride 2.
    let mut wide = Array2::from_elem((w.nrows(), 2 * n), NAN);
    wide.slice_mut(s![.., ..;2]).assign(w);
    let w_column_major = column_major(w);
    let x_column_major = column_major(x);
    let expected = expected.as_slice().expect("standard layout");
    for (path, kernel) in KERNELS {
        let operands = [
            ("row-major", x.view(), w.view()),
            ("w column-major", x.view(), w_column_major.view()),
            ("w strided", x.view(), wide.slice(s![.., ..;2])),
            ("x column-major", x_column_major.view(), w.view()),
        ];
        for (layout, x, w) in operands {
            let mut out = Array2::from_elem((m, n), 7.0);
            kernel(x, w, bias.map(|b| b.view()), activation, out.view_mut());
            assert_values(&format!("{context} {path} {layout}"), &out, expected);
        }
        let mut out = Array2::from_elem((n, m), 7.0);
        kernel(
            x.view(),
            w.view(),
            bias.map(|b| b.view()),
            activation,
            out.view_mut().reversed_axes(),
        );
        assert_values(
            &format!("{context} {path} out column-major"),
            out.t(),
            expected,
        );
    }
}

#[test]
fn matrix_products_propagate_non_finite_inputs_on_every_path() {
    eprintln!("SIMD kernels available: {}", simd_available());
    let (x, w, expected) = product_operands();
    check_layouts("x·w", (&x, &w), None, Activation::Identity, &expected);
    // More rows than one AVX2 panel holds.
    let tall_x = ndarray::concatenate![Axis(0), x, x];
    let tall_expected = ndarray::concatenate![Axis(0), expected, expected];
    check_layouts(
        "tall x·w",
        (&tall_x, &w),
        None,
        Activation::Identity,
        &tall_expected,
    );
    // Fewer than eight columns: the dot-product kernel first.
    let narrow_w = w.slice(s![.., 2..5]).to_owned();
    let narrow_expected = expected.slice(s![.., 2..5]).to_owned();
    check_layouts(
        "narrow x·w",
        (&x, &narrow_w),
        None,
        Activation::Identity,
        &narrow_expected,
    );
    // The products built on the same kernels.
    let flat = expected.as_slice().expect("standard layout");
    assert_values("matmul", &linalg::matmul(x.view(), w.view()), flat);
    let xs = ndarray::stack![Axis(0), x, x];
    let ws = ndarray::stack![Axis(0), w, w];
    let batch = batched::batch_matmul(xs.view(), ws.view());
    for (i, product) in batch.outer_iter().enumerate() {
        assert_values(&format!("batch_matmul[{i}]"), product, flat);
    }
    let column: Array1<f32> = linalg::matvec(w.t(), x.row(2));
    assert_values("matvec", &column, expected.row(2).as_slice().expect("row"));
}

#[test]
fn activations_on_non_finite_sums_on_every_path() {
    let (x, w, expected) = product_operands();
    let relu = array![
        [1.0_f32, 0.0, 0.0, NAN, 0.0, 1.0, 1.0, 1.0, NAN],
        [NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
        [INF, 0.0, NAN, NAN, NAN, INF, INF, INF, NAN],
        [1.0, 0.0, 0.0, NAN, 0.0, 1.0, 1.0, 1.0, NAN]
    ];
    check_layouts("relu", (&x, &w), None, Activation::Relu, &relu);
    for activation in [
        Activation::LeakyRelu(0.0),
        Activation::LeakyRelu(0.5),
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::GeluTanh,
        Activation::GeluExact,
        Activation::Softplus,
        Activation::Clip(-0.5, 0.5),
        Activation::Clip(NAN, NAN),
        Activation::Silu,
        Activation::Elu(1.0),
        Activation::Elu(0.0),
        Activation::HardSigmoid(0.2, 0.5),
        Activation::HardSigmoid(0.0, 0.5),
    ] {
        let activated = expected.mapv(|v| activation.apply(v));
        check_layouts(
            &format!("{activation:?}"),
            (&x, &w),
            None,
            activation,
            &activated,
        );
    }
}

#[test]
fn dense_bias_and_empty_inner_dimension() {
    let x = array![[1.0_f32, 2.0], [0.0, -1.0]];
    let w = Array2::from_elem((2, 9), 1.0_f32);
    let bias = array![NAN, INF, NEG, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0];
    let expected = array![
        [NAN, INF, NEG, 3.0, 3.0, 3.0, 3.0, 3.0, 4.0],
        [NAN, INF, NEG, -1.0, -1.0, -1.0, -1.0, -1.0, 0.0]
    ];
    check_layouts(
        "bias",
        (&x, &w),
        Some(&bias),
        Activation::Identity,
        &expected,
    );
    let empty_x = Array2::<f32>::zeros((2, 0));
    let empty_w = Array2::<f32>::zeros((0, 9));
    let bias = array![NAN, INF, NEG, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0];
    let row = [NAN, INF, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0];
    let y = dense(
        empty_x.view(),
        empty_w.view(),
        Some(bias.view()),
        Activation::Relu,
    );
    assert_values("k = 0", &y, &[row, row].concat());
}

/// The AVX2 tile kernel fuses each multiply-add, so a product beyond
/// `f32::MAX` that the sum brings back into range stays finite there, while
/// the portable and dot-product kernels round the product to `+inf` first.
/// Pinned here so that a change to either path shows up.
#[test]
fn dense_paths_can_disagree_on_intermediate_overflow() {
    let (small, big) = (2e19_f32, -3e38_f32);
    let x = array![[1.0_f32, small]];
    let w = Array2::from_shape_fn((2, 8), |(p, _)| if p == 0 { big } else { small });
    // One rounding of big + small², exact in f64 before it.
    #[allow(clippy::cast_possible_truncation)]
    let fused = (f64::from(big) + f64::from(small) * f64::from(small)) as f32;
    assert!(fused.is_finite() && (fused - 1e38).abs() < 1e32);
    let tiles = if simd_available() { fused } else { INF };
    let w_column_major = column_major(&w);
    let cases: [(&str, Kernel, ArrayView2<'_, f32>, f32); 4] = [
        ("dispatching, w row-major", dense_into, w.view(), tiles),
        (
            "dispatching, w column-major",
            dense_into,
            w_column_major.view(),
            INF,
        ),
        ("portable, w row-major", dense_into_portable, w.view(), INF),
        (
            "portable, w column-major",
            dense_into_portable,
            w_column_major.view(),
            INF,
        ),
    ];
    for (context, kernel, w, expected) in cases {
        let mut out = Array2::zeros((1, 8));
        kernel(x.view(), w, None, Activation::Identity, out.view_mut());
        assert_values(context, &out, &[expected; 8]);
    }
}
