//! Softmax, log-softmax and log-sum-exp against numpy
//! (`fixtures/kernels/softmax.json`), including `[1000, 1000, -1000]`, logits
//! of magnitude 1e4 and every axis; every case in both memory layouts.

mod common;

use common::{assert_close, assert_ops_covered, cases, layouts, ELEMENTWISE};
use graph_runtime::kernels::softmax;
use ndarray::{ArrayD, IxDyn};

fn check(op: &str, kernel: impl Fn(&common::Case, &ArrayD<f32>) -> ArrayD<f32>) {
    for case in cases("softmax", op) {
        let expected = case.f32s("out");
        for (layout, x) in layouts(&case.f32s("x")) {
            let actual = kernel(&case, &x);
            assert!(
                actual.iter().all(|v| v.is_finite()),
                "{}: non-finite result",
                case.label()
            );
            let context = format!("{} ({layout})", case.label());
            assert_close(&context, actual.view(), expected.view(), ELEMENTWISE);
        }
    }
}

#[test]
fn every_fixture_op_is_tested() {
    assert_ops_covered("softmax", &["softmax", "log_softmax", "logsumexp"]);
}

#[test]
fn softmax() {
    check("softmax", |case, x| {
        softmax::softmax(x.view(), case.index("axis"))
    });
}

#[test]
fn log_softmax() {
    check("log_softmax", |case, x| {
        softmax::log_softmax(x.view(), case.index("axis"))
    });
}

#[test]
fn logsumexp() {
    check("logsumexp", |case, x| {
        softmax::logsumexp::<IxDyn>(x.view(), case.index("axis"), case.flag("keep_dims"))
    });
}

#[test]
fn softmax_rows_sum_to_one() {
    for case in cases("softmax", "softmax") {
        let axis = ndarray::Axis(case.index("axis"));
        let p = softmax::softmax(case.f32s("x").view(), axis.index());
        for total in p.sum_axis(axis) {
            assert!(
                (total - 1.0).abs() < 1e-6,
                "{}: lane sums to {total}",
                case.label()
            );
        }
    }
}
