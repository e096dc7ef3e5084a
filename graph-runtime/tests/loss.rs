//! Losses against numpy (`fixtures/kernels/loss.json`): one-hot and
//! probability labels, logits of magnitude 1e4, a single class, and an
//! out-of-range class index that must come back as a typed error.

mod common;

use common::{
    assert_close, assert_close_scalar, assert_ops_covered, cases, fixed, layouts, Case, ELEMENTWISE,
};
use graph_runtime::kernels::loss;
use ndarray::{Array1, ArrayD, Ix1, Ix2};

#[test]
fn every_fixture_op_is_tested() {
    assert_ops_covered(
        "loss",
        &[
            "mse",
            "softmax_cross_entropy",
            "softmax_cross_entropy_indices",
            "sigmoid_cross_entropy",
        ],
    );
}

#[test]
fn mse() {
    for case in cases("loss", "mse") {
        let expected = case.f32s("out").into_iter().next().expect("a scalar");
        let [(_, pred), (_, pred_column)] = layouts(&case.f32s("pred"));
        let target = case.f32s("target");
        for (layout, pred) in [("row-major", pred), ("column-major", pred_column)] {
            let actual = loss::mse(pred.view(), target.view());
            let context = format!("{} ({layout})", case.label());
            assert_close_scalar(
                &context,
                f64::from(actual),
                f64::from(expected),
                ELEMENTWISE,
            );
        }
    }
}

fn assert_losses(case: &Case, context: &str, per_example: &Array1<f32>, mean: f32) {
    let expected = case.f32s("out");
    assert_close(
        context,
        per_example.view().into_dyn(),
        expected.view(),
        ELEMENTWISE,
    );
    let expected_mean = case.f32s("mean").into_iter().next().expect("a scalar");
    assert_close_scalar(
        &format!("{context} mean"),
        f64::from(mean),
        f64::from(expected_mean),
        ELEMENTWISE,
    );
}

#[test]
fn softmax_cross_entropy() {
    for case in cases("loss", "softmax_cross_entropy") {
        let [(_, logits), (_, logits_column)] = layouts(&case.f32s("logits"));
        let labels = case.f32s("labels");
        for (layout, logits) in [("row-major", logits), ("column-major", logits_column)] {
            let (logits, labels) = (fixed::<Ix2>(&logits), fixed::<Ix2>(&labels));
            let per_example = loss::softmax_cross_entropy(logits, labels);
            let mean = loss::softmax_cross_entropy_mean(logits, labels);
            assert_losses(
                &case,
                &format!("{} ({layout})", case.label()),
                &per_example,
                mean,
            );
        }
    }
}

#[test]
fn softmax_cross_entropy_indices() {
    for case in cases("loss", "softmax_cross_entropy_indices") {
        let labels = case
            .usizes("labels")
            .into_dimensionality::<Ix1>()
            .expect("1-D labels");
        for (layout, logits) in layouts(&case.f32s("logits")) {
            let logits = fixed::<Ix2>(&logits);
            let per_example = loss::softmax_cross_entropy_indices(logits, labels.view(), "labels");
            let mean = loss::softmax_cross_entropy_indices_mean(logits, labels.view(), "labels");
            let context = format!("{} ({layout})", case.label());
            if case.has("error") {
                let expected = case.index_error("labels");
                assert_eq!(per_example, Err(expected.clone()), "{context}");
                assert_eq!(mean, Err(expected), "{context} mean");
            } else {
                assert_losses(
                    &case,
                    &context,
                    &per_example.expect("valid labels"),
                    mean.expect("valid labels"),
                );
            }
        }
    }
}

#[test]
fn sigmoid_cross_entropy() {
    for case in cases("loss", "sigmoid_cross_entropy") {
        let expected = case.f32s("out");
        let [(_, logits), (_, logits_column)] = layouts(&case.f32s("logits"));
        let [(_, labels), (_, labels_column)] = layouts(&case.f32s("labels"));
        for (layout, logits, labels) in [
            ("row-major", logits, labels),
            ("column-major", logits_column, labels_column),
        ] {
            let actual: ArrayD<f32> = loss::sigmoid_cross_entropy(logits.view(), labels.view());
            let context = format!("{} ({layout})", case.label());
            assert_close(&context, actual.view(), expected.view(), ELEMENTWISE);
        }
    }
}
