//! `silu`, `elu` and `hard_sigmoid` against numpy
//! (`fixtures/kernels/activations.json`, written by
//! `tests/reference/activations.py` in float64 and rounded once to f32),
//! through every form: the scalar functions, `Activation::apply`, the
//! allocating, `_into` and `_inplace` unary kernels, the std dense kernels'
//! epilogues (dispatching, portable, packed; bias or none; `w` row-major or
//! transposed) and the `no_std` slice kernels (`flat::map`, `flat::dense`).
//!
//! The fixture's inputs form a 9 × 19 matrix; the dense tests multiply it by
//! the 19 × 19 identity, a product that is exact (each sum is one `x·1` plus
//! zeros), so the epilogue's activation is the only rounding, on 9 rows (a
//! 6-row tile plus 3) and 19 columns (two 8-lane vectors plus a tail of 3).
//!
//! NaN and infinities are tested by hand at the end, as in `numerics.rs`.

mod common;

use common::{assert_close, assert_ops_covered, cases, layouts, Case, Tolerance};
use graph_runtime::flat::{self, Index};
use graph_runtime::kernels::dense::{dense, dense_into, dense_into_portable, Activation};
use graph_runtime::kernels::packed::{dense_packed_into, PackedWeights};
use graph_runtime::kernels::unary;
use graph_runtime::scalar;
use ndarray::{array, Array1, Array2, ArrayD, ArrayView2, ArrayViewD, ArrayViewMutD, Ix2};

/// `silu` and `elu`: `|actual − expected| ≤ 2.4e-7·|expected| + 1e-43`.
///
/// The relative part is two units in the last place at the bottom of a
/// binade (2·2⁻²³): the reference is correctly rounded, and the f32
/// evaluation adds the error of `exp`/`expm1` and of one or two roundings.
/// The absolute part covers only subnormal results: below `x ≈ -87`
/// `σ(x)` is subnormal in f32, so `silu`'s tiny results there are off by up
/// to `|x|·2⁻¹⁵⁰ < 1e-43`; it is far below every normal result, which the
/// relative part alone bounds.
const SMOOTH: Tolerance = Tolerance {
    rel: 2.4e-7,
    abs: 1e-43,
};

/// `hard_sigmoid`: `|actual − expected| ≤ 2.4e-7·|expected| + 6e-8`.
///
/// `α·x` and `+ β` round separately, and near the lower kink the sum
/// cancels: the rounding of `α·x` (at most half an ulp of a value below 1
/// in magnitude for these cases, 2⁻²⁵ ≈ 3e-8) can dominate a result near 0,
/// so the absolute part allows twice that.
const AFFINE: Tolerance = Tolerance {
    rel: 2.4e-7,
    abs: 6e-8,
};

/// A scalar function with its parameters bound.
type Scalar = Box<dyn Fn(f32) -> f32>;
/// An allocating unary kernel with its parameters bound.
type Plain = Box<dyn Fn(ArrayViewD<'_, f32>) -> ArrayD<f32>>;
/// An `_into` unary kernel with its parameters bound.
type IntoForm = Box<dyn Fn(ArrayViewD<'_, f32>, ArrayViewMutD<'_, f32>)>;
/// An `_inplace` unary kernel with its parameters bound.
type InplaceForm = Box<dyn Fn(ArrayViewMutD<'_, f32>)>;

/// One fixture case as the function, the activation and the unary kernels
/// it names, with its parameters.
struct Op {
    label: String,
    f: Scalar,
    activation: Activation,
    tolerance: Tolerance,
    x: ArrayD<f32>,
    expected: ArrayD<f32>,
    plain: Plain,
    into: IntoForm,
    inplace: InplaceForm,
}

fn silu(case: &Case) -> Op {
    Op {
        label: case.label(),
        f: Box::new(scalar::silu),
        activation: Activation::Silu,
        tolerance: SMOOTH,
        x: case.f32s("x"),
        expected: case.f32s("out"),
        plain: Box::new(|x| unary::silu(x)),
        into: Box::new(|x, out| unary::silu_into(x, out)),
        inplace: Box::new(|x| unary::silu_inplace(x)),
    }
}

fn elu(case: &Case) -> Op {
    let alpha = case.scalar("alpha");
    Op {
        label: case.label(),
        f: Box::new(move |v| scalar::elu(v, alpha)),
        activation: Activation::Elu(alpha),
        tolerance: SMOOTH,
        x: case.f32s("x"),
        expected: case.f32s("out"),
        plain: Box::new(move |x| unary::elu(x, alpha)),
        into: Box::new(move |x, out| unary::elu_into(x, alpha, out)),
        inplace: Box::new(move |x| unary::elu_inplace(x, alpha)),
    }
}

fn hard_sigmoid(case: &Case) -> Op {
    let (alpha, beta) = (case.scalar("alpha"), case.scalar("beta"));
    Op {
        label: case.label(),
        f: Box::new(move |v| scalar::hard_sigmoid(v, alpha, beta)),
        activation: Activation::HardSigmoid(alpha, beta),
        tolerance: AFFINE,
        x: case.f32s("x"),
        expected: case.f32s("out"),
        plain: Box::new(move |x| unary::hard_sigmoid(x, alpha, beta)),
        into: Box::new(move |x, out| unary::hard_sigmoid_into(x, alpha, beta, out)),
        inplace: Box::new(move |x| unary::hard_sigmoid_inplace(x, alpha, beta)),
    }
}

/// Every case of the fixture, as [`Op`]s.
fn ops() -> Vec<Op> {
    let mut all: Vec<Op> = cases("activations", "silu").iter().map(silu).collect();
    all.extend(cases("activations", "elu").iter().map(elu));
    all.extend(
        cases("activations", "hard_sigmoid")
            .iter()
            .map(hard_sigmoid),
    );
    all
}

/// The fixture's inputs as a matrix, with its expected results.
fn matrices(op: &Op) -> (Array2<f32>, Array2<f32>) {
    let x = op.x.clone().into_dimensionality::<Ix2>().expect("a matrix");
    let expected = op
        .expected
        .clone()
        .into_dimensionality::<Ix2>()
        .expect("a matrix");
    (x, expected)
}

#[test]
fn every_fixture_op_is_tested() {
    assert_ops_covered("activations", &["silu", "elu", "hard_sigmoid"]);
    let ops = ops();
    assert_eq!(ops.len(), 9, "1 silu, 3 elu and 5 hard_sigmoid cases");
    let (x, _) = matrices(&ops[0]);
    assert_eq!(x.dim(), (9, 19));
}

#[test]
fn scalar_functions_and_activation_apply() {
    for op in ops() {
        let by_function = op.x.mapv(|v| (op.f)(v));
        let context = format!("{} (scalar)", op.label);
        assert_close(
            &context,
            by_function.view(),
            op.expected.view(),
            op.tolerance,
        );
        let by_activation = op.x.mapv(|v| op.activation.apply(v));
        let context = format!("{} ({:?}.apply)", op.label, op.activation);
        assert_close(
            &context,
            by_activation.view(),
            op.expected.view(),
            op.tolerance,
        );
    }
}

#[test]
fn unary_kernels_in_every_form_and_layout() {
    for op in ops() {
        for (layout, x) in layouts(&op.x) {
            let context = format!("{} (plain, {layout})", op.label);
            let y = (op.plain)(x.view());
            assert_close(&context, y.view(), op.expected.view(), op.tolerance);

            for (out_layout, mut out) in layouts(&ArrayD::from_elem(op.x.raw_dim(), f32::NAN)) {
                (op.into)(x.view(), out.view_mut());
                let context = format!("{} (_into, {layout} into {out_layout})", op.label);
                assert_close(&context, out.view(), op.expected.view(), op.tolerance);
            }

            let mut y = x.clone();
            (op.inplace)(y.view_mut());
            let context = format!("{} (_inplace, {layout})", op.label);
            assert_close(&context, y.view(), op.expected.view(), op.tolerance);
        }
    }
}

/// The std dense kernels with the activation in their epilogue: `x·I`,
/// with no bias or a zero bias, `w` row-major (tile kernel) or transposed
/// (dot kernel), through the dispatching, portable and packed entry points
/// and the allocating `dense`.
#[test]
fn std_dense_epilogues() {
    for op in ops() {
        let (x, expected) = matrices(&op);
        let n = x.ncols();
        let identity = Array2::<f32>::eye(n);
        let zeros = Array1::<f32>::zeros(n);
        let packed = PackedWeights::new(identity.view());
        for bias in [None, Some(zeros.view())] {
            let check = |path: &str, y: ArrayView2<'_, f32>| {
                let context = format!("{} ({path}, bias {})", op.label, bias.is_some());
                assert_close(
                    &context,
                    y.into_dyn(),
                    expected.view().into_dyn(),
                    op.tolerance,
                );
            };
            check(
                "dense",
                dense(x.view(), identity.view(), bias, op.activation).view(),
            );
            // `identity.t()` is the identity stored transposed: unit row
            // stride, which sends the product to the dot kernel.
            for (layout, w) in [("w", identity.view()), ("w transposed", identity.t())] {
                let mut out = Array2::from_elem(x.dim(), f32::NAN);
                dense_into(x.view(), w, bias, op.activation, out.view_mut());
                check(&format!("dense_into, {layout}"), out.view());
                let mut out = Array2::from_elem(x.dim(), f32::NAN);
                dense_into_portable(x.view(), w, bias, op.activation, out.view_mut());
                check(&format!("dense_into_portable, {layout}"), out.view());
            }
            let mut out = Array2::from_elem(x.dim(), f32::NAN);
            dense_packed_into(
                x.view(),
                identity.view(),
                &packed,
                bias,
                op.activation,
                out.view_mut(),
            );
            check("dense_packed_into", out.view());
        }
    }
}

/// The slice kernels that `#[no_std]` graphs compile to: `flat::map` with
/// the scalar function (an elementwise node) and `flat::dense` with the
/// scalar function or `Activation::apply` (a dense node), with and without
/// a bias.
#[test]
fn no_std_flat_kernels() {
    for op in ops() {
        let (x, expected) = matrices(&op);
        let (m, n) = x.dim();
        let inputs = x.as_slice().expect("standard layout");
        let identity = Array2::<f32>::eye(n);
        let eye = identity.as_slice().expect("standard layout");
        let zeros = vec![0.0_f32; n];
        let check = |path: &str, results: &[f32]| {
            let results = ArrayView2::from_shape((m, n), results).expect("m·n values");
            let context = format!("{} ({path})", op.label);
            assert_close(
                &context,
                results.into_dyn(),
                expected.view().into_dyn(),
                op.tolerance,
            );
        };

        let mut out = vec![f32::NAN; m * n];
        flat::map([(inputs, Index::Same)], &[m, n], &mut out, |[v]| (op.f)(v));
        check("flat::map", &out);

        for bias in [None, Some(&zeros[..])] {
            let label = if bias.is_some() {
                "zero bias"
            } else {
                "no bias"
            };
            let mut out = vec![f32::NAN; m * n];
            flat::dense(inputs, eye, bias, (m, n, n), &op.f, &mut out);
            check(&format!("flat::dense, scalar function, {label}"), &out);
            let mut out = vec![f32::NAN; m * n];
            let activation = op.activation;
            flat::dense(
                inputs,
                eye,
                bias,
                (m, n, n),
                |v| activation.apply(v),
                &mut out,
            );
            check(&format!("flat::dense, Activation::apply, {label}"), &out);
        }
    }
}

// NaN, infinities and signed zeros, by hand ----------------------------------

const NAN: f32 = f32::NAN;
const INF: f32 = f32::INFINITY;
const NEG: f32 = f32::NEG_INFINITY;

/// Asserts that `actual` is exactly `expected`, NaN matching NaN and the
/// sign of zero included.
#[track_caller]
fn assert_same(context: &str, actual: &[f32], expected: &[f32]) {
    assert_eq!(actual.len(), expected.len(), "{context}: length");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let same =
            (a.is_nan() && e.is_nan()) || (a == e && a.is_sign_negative() == e.is_sign_negative());
        assert!(same, "{context}[{i}]: got {a:?}, expected {e:?}");
    }
}

/// `[NaN, +inf, -inf, 0, -0]` through `f` in every form.
#[track_caller]
fn assert_specials(
    name: &str,
    f: impl Fn(f32) -> f32,
    activation: Activation,
    kernel: impl Fn(ArrayViewD<'_, f32>) -> ArrayD<f32>,
    expected: [f32; 5],
) {
    let x = array![NAN, INF, NEG, 0.0, -0.0].into_dyn();
    let by_function: Vec<f32> = x.iter().map(|&v| f(v)).collect();
    assert_same(&format!("{name} (scalar)"), &by_function, &expected);
    let by_activation: Vec<f32> = x.iter().map(|&v| activation.apply(v)).collect();
    assert_same(
        &format!("{name} ({activation:?})"),
        &by_activation,
        &expected,
    );
    let y = kernel(x.view());
    assert_same(
        &format!("{name} (kernel)"),
        y.as_slice().expect("standard layout"),
        &expected,
    );
}

/// `silu` keeps NaN, is `+inf` at `+inf` and, like the GELUs, NaN at `-inf`
/// (`-inf · σ(-inf) = -inf · 0`); it keeps the sign of zero.
#[test]
fn silu_special_values() {
    assert_specials(
        "silu",
        scalar::silu,
        Activation::Silu,
        |x| unary::silu(x),
        [NAN, INF, NAN, 0.0, -0.0],
    );
    // Very negative finite inputs: tiny and negative down to about -104,
    // then -0 (σ has underflowed to 0); huge positive ones are themselves.
    let y = unary::silu(array![-100.0_f32, -103.0, -105.0, -1e4, f32::MIN, f32::MAX].view());
    assert!(y[0] < 0.0 && y[0] > -1e-41, "silu(-100) = {}", y[0]);
    assert!(y[1] < 0.0, "silu(-103) = {}", y[1]);
    assert_same(
        "silu, far left",
        &y.to_vec()[2..],
        &[-0.0, -0.0, -0.0, f32::MAX],
    );
}

/// ELU keeps NaN, is `+inf` at `+inf`, `-α` at `-inf` (so never NaN, even
/// with `α = 0`), and `α·(-0) = -0` at `-0`.
#[test]
fn elu_special_values() {
    for alpha in [1.0_f32, 0.5, 2.0] {
        assert_specials(
            &format!("elu {alpha}"),
            |v| scalar::elu(v, alpha),
            Activation::Elu(alpha),
            |x| unary::elu(x, alpha),
            [NAN, INF, -alpha, 0.0, -0.0],
        );
    }
    assert_specials(
        "elu 0",
        |v| scalar::elu(v, 0.0),
        Activation::Elu(0.0),
        |x| unary::elu(x, 0.0),
        [NAN, INF, -0.0, 0.0, -0.0],
    );
    // Huge finite inputs: the identity on the right, -α on the left.
    let y = unary::elu(array![f32::MAX, f32::MIN, -1e4].view(), 1.5);
    assert_same("elu, extremes", &y.to_vec(), &[f32::MAX, -1.5, -1.5]);
}

/// Hard sigmoid keeps NaN and, for `α > 0`, is 1 at `+inf` and 0 at `-inf`
/// (reversed for `α < 0`); with `α = 0`, `0 · ±inf` makes it NaN at both
/// infinities, as `leaky_relu` with slope 0 is at `-inf`. At zero of either
/// sign it is `β` clamped.
#[test]
fn hard_sigmoid_special_values() {
    let cases: [(f32, f32, [f32; 5]); 5] = [
        (0.2, 0.5, [NAN, 1.0, 0.0, 0.5, 0.5]),
        (1.0 / 6.0, 0.5, [NAN, 1.0, 0.0, 0.5, 0.5]),
        (-0.5, 0.5, [NAN, 0.0, 1.0, 0.5, 0.5]),
        (0.0, 0.5, [NAN, NAN, NAN, 0.5, 0.5]),
        (0.2, 3.0, [NAN, 1.0, 0.0, 1.0, 1.0]),
    ];
    for (alpha, beta, expected) in cases {
        assert_specials(
            &format!("hard_sigmoid {alpha} {beta}"),
            |v| scalar::hard_sigmoid(v, alpha, beta),
            Activation::HardSigmoid(alpha, beta),
            |x| unary::hard_sigmoid(x, alpha, beta),
            expected,
        );
    }
    // The kinks of ONNX's and PyTorch's forms, exactly.
    let y = unary::hard_sigmoid(array![-2.5_f32, 2.5, f32::MIN, f32::MAX].view(), 0.2, 0.5);
    assert_same("onnx kinks", &y.to_vec(), &[0.0, 1.0, 0.0, 1.0]);
    let y = unary::hard_sigmoid(array![-3.0_f32, 0.0, 3.0].view(), 1.0 / 6.0, 0.5);
    assert_same("pytorch kinks", &y.to_vec(), &[0.0, 0.5, 1.0]);
}

/// Non-finite sums reach the epilogue of every dense path and come out as
/// the scalar functions say: a NaN row, `+inf` and `-inf` columns.
#[test]
fn dense_epilogues_on_non_finite_sums() {
    // Row 0 sums to NaN, row 1 to [+inf, -inf, 1], row 2 is finite.
    let x = array![[NAN, 1.0], [1.0, 0.0], [0.5, 0.5]];
    let w = array![[INF, NEG, 1.0], [1.0, 1.0, 1.0]];
    let sums = array![[NAN, NAN, NAN], [INF, NEG, 1.0], [INF, NEG, 1.0]];
    let activations = [
        Activation::Silu,
        Activation::Elu(1.0),
        Activation::Elu(0.0),
        Activation::HardSigmoid(0.2, 0.5),
        Activation::HardSigmoid(0.0, 0.5),
    ];
    for activation in activations {
        let expected: Vec<f32> = sums.iter().map(|&v| activation.apply(v)).collect();
        let mut out = Array2::zeros((3, 3));
        dense_into(x.view(), w.view(), None, activation, out.view_mut());
        assert_same(
            &format!("dense_into {activation:?}"),
            out.as_slice().expect("standard layout"),
            &expected,
        );
        dense_into_portable(x.view(), w.view(), None, activation, out.view_mut());
        assert_same(
            &format!("dense_into_portable {activation:?}"),
            out.as_slice().expect("standard layout"),
            &expected,
        );
        let mut flat_out = [0.0_f32; 9];
        flat::dense(
            x.as_slice().expect("standard layout"),
            w.as_slice().expect("standard layout"),
            None,
            (3, 2, 3),
            |v| activation.apply(v),
            &mut flat_out,
        );
        assert_same(&format!("flat::dense {activation:?}"), &flat_out, &expected);
    }
    // The values themselves, by hand.
    let silu = sums.mapv(scalar::silu);
    assert_same(
        "silu of the sums",
        &silu.as_slice().expect("standard layout")[..5],
        &[NAN, NAN, NAN, INF, NAN],
    );
    // σ(1) = 0.731058578630…
    assert!((silu[[1, 2]] - 0.731_058_6).abs() <= 1e-7);
    let elu = sums.mapv(|v| scalar::elu(v, 1.0));
    assert_same(
        "elu of the sums",
        &elu.as_slice().expect("standard layout")[3..6],
        &[INF, -1.0, 1.0],
    );
}
