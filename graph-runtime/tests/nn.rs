//! Normalisations and gather against numpy (`fixtures/kernels/norm.json`,
//! `gather.json`), including an out-of-range index that must come back as a
//! typed error naming the tensor, the index, its position and the bound.

mod common;

use common::{assert_close, assert_ops_covered, cases, fixed, layouts, ELEMENTWISE, EXACT};
use graph_runtime::kernels::nn;
use ndarray::{Ix1, IxDyn};

#[test]
fn every_fixture_op_is_tested() {
    assert_ops_covered("norm", &["batch_norm", "layer_norm"]);
    assert_ops_covered("gather", &["gather"]);
}

#[test]
fn batch_norm() {
    for case in cases("norm", "batch_norm") {
        let expected = case.f32s("out");
        let [mean, variance, scale, offset] =
            ["mean", "variance", "scale", "offset"].map(|key| case.f32s(key));
        for (layout, x) in layouts(&case.f32s("x")) {
            let actual = nn::batch_norm(
                x.view(),
                fixed::<Ix1>(&mean),
                fixed::<Ix1>(&variance),
                fixed::<Ix1>(&scale),
                fixed::<Ix1>(&offset),
                case.scalar("epsilon"),
            );
            let context = format!("{} ({layout})", case.label());
            assert_close(&context, actual.view(), expected.view(), ELEMENTWISE);
        }
    }
}

#[test]
fn layer_norm() {
    for case in cases("norm", "layer_norm") {
        let expected = case.f32s("out");
        let [gamma, beta] = ["gamma", "beta"].map(|key| case.f32s(key));
        for (layout, x) in layouts(&case.f32s("x")) {
            let actual = nn::layer_norm(
                x.view(),
                fixed::<Ix1>(&gamma),
                fixed::<Ix1>(&beta),
                case.scalar("epsilon"),
            );
            let context = format!("{} ({layout})", case.label());
            assert_close(&context, actual.view(), expected.view(), ELEMENTWISE);
        }
    }
}

#[test]
fn gather() {
    for case in cases("gather", "gather") {
        let [(_, params), (_, params_column)] = layouts(&case.f32s("params"));
        let [(_, indices), (_, indices_column)] = layouts(&case.usizes("indices"));
        for (layout, params, indices) in [
            ("row-major", params, indices),
            ("column-major", params_column, indices_column),
        ] {
            let actual = nn::gather::<IxDyn>(params.view(), indices.view(), "ids");
            let context = format!("{} ({layout})", case.label());
            if case.has("error") {
                assert_eq!(actual, Err(case.index_error("ids")), "{context}");
            } else {
                let actual = actual.expect("indices in range");
                assert_close(&context, actual.view(), case.f32s("out").view(), EXACT);
            }
        }
    }
}
