//! Unary kernels against numpy (`fixtures/kernels/unary.json`) and the f64
//! error function against Python's `math.erf` (`erf.json`).

mod common;

use common::{
    assert_close, assert_close_scalar, assert_ops_covered, cases, layouts, ELEMENTWISE, SPECIAL_F64,
};
use graph_runtime::kernels::unary;
use ndarray::{ArrayD, ArrayViewD};

/// Runs `kernel` on every `op` case in both layouts.
fn check(op: &str, kernel: impl Fn(&common::Case, ArrayViewD<'_, f32>) -> ArrayD<f32>) {
    for case in cases("unary", op) {
        let expected = case.f32s("out");
        for (layout, x) in layouts(&case.f32s("x")) {
            let actual = kernel(&case, x.view());
            let context = format!("{} ({layout})", case.label());
            assert_close(&context, actual.view(), expected.view(), ELEMENTWISE);
        }
    }
}

#[test]
fn every_fixture_op_is_tested() {
    assert_ops_covered(
        "unary",
        &[
            "abs",
            "exp",
            "log",
            "sqrt",
            "square",
            "pow",
            "relu",
            "leaky_relu",
            "sigmoid",
            "tanh",
            "gelu_tanh",
            "gelu_exact",
            "erf",
            "softplus",
            "clip",
        ],
    );
}

#[test]
fn abs() {
    check("abs", |_, x| unary::abs(x));
}

#[test]
fn exp() {
    check("exp", |_, x| unary::exp(x));
}

#[test]
fn log() {
    check("log", |_, x| unary::log(x));
}

#[test]
fn sqrt() {
    check("sqrt", |_, x| unary::sqrt(x));
}

#[test]
fn square() {
    check("square", |_, x| unary::square(x));
}

#[test]
fn pow() {
    check("pow", |case, x| unary::pow(x, case.scalar("p")));
}

#[test]
fn relu() {
    check("relu", |_, x| unary::relu(x));
}

#[test]
fn leaky_relu() {
    check("leaky_relu", |case, x| {
        unary::leaky_relu(x, case.scalar("alpha"))
    });
}

#[test]
fn sigmoid() {
    check("sigmoid", |_, x| unary::sigmoid(x));
}

#[test]
fn tanh() {
    check("tanh", |_, x| unary::tanh(x));
}

#[test]
fn gelu_tanh() {
    check("gelu_tanh", |_, x| unary::gelu_tanh(x));
}

#[test]
fn gelu_exact() {
    check("gelu_exact", |_, x| unary::gelu_exact(x));
}

#[test]
fn erf() {
    check("erf", |_, x| unary::erf(x));
}

#[test]
fn softplus() {
    check("softplus", |_, x| unary::softplus(x));
}

#[test]
fn clip() {
    check("clip", |case, x| {
        unary::clip(x, case.scalar("lo"), case.scalar("hi"))
    });
}

#[test]
fn erf_f64_matches_python_math() {
    assert_ops_covered("erf", &["erf_f64"]);
    for case in cases("erf", "erf_f64") {
        check_erf(&case);
    }
}

fn check_erf(case: &common::Case) {
    let xs = case.f64s("x");
    for ((x, erf), erfc) in xs.iter().zip(case.f64s("erf")).zip(case.f64s("erfc")) {
        assert_close_scalar(&format!("erf({x})"), unary::erf_f64(*x), erf, SPECIAL_F64);
        assert_close_scalar(
            &format!("erfc({x})"),
            unary::erfc_f64(*x),
            erfc,
            SPECIAL_F64,
        );
    }
}
