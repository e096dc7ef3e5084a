//! Convolution and pooling against explicit-loop numpy implementations of
//! TensorFlow's semantics (`fixtures/kernels/conv.json`): VALID and SAME with
//! even and odd windows, strides 1 to 3, dilation 2, inputs smaller than the
//! window; every case in both memory layouts.

mod common;

use common::{
    assert_close, assert_ops_covered, cases, fixed, layouts, Case, ACCUMULATED, ELEMENTWISE, EXACT,
};
use graph_runtime::kernels::conv::{self, Padding};
use ndarray::{Array4, ArrayView4, Ix4};

fn padding(case: &Case) -> Padding {
    match case.text("padding") {
        "valid" => Padding::Valid,
        "same" => Padding::Same,
        other => panic!("unknown padding {other}"),
    }
}

fn pair(case: &Case, key: &str) -> (usize, usize) {
    let [a, b] = <[usize; 2]>::try_from(case.indices(key)).expect("a pair");
    (a, b)
}

/// `(input, window, strides, padding) -> output`, as both pools are.
type Pool = fn(ArrayView4<'_, f32>, (usize, usize), (usize, usize), Padding) -> Array4<f32>;

#[test]
fn every_fixture_op_is_tested() {
    assert_ops_covered("conv", &["conv2d", "max_pool2d", "avg_pool2d"]);
}

#[test]
fn conv2d() {
    for case in cases("conv", "conv2d") {
        let expected = case.f32s("out");
        let [(_, filter), (_, filter_column)] = layouts(&case.f32s("filter"));
        let [(_, input), (_, input_column)] = layouts(&case.f32s("input"));
        for (layout, input, filter) in [
            ("row-major", input, filter),
            ("column-major", input_column, filter_column),
        ] {
            let actual = conv::conv2d(
                fixed::<Ix4>(&input),
                fixed::<Ix4>(&filter),
                pair(&case, "strides"),
                padding(&case),
                pair(&case, "dilations"),
            );
            let context = format!("{} ({layout})", case.label());
            assert_close(
                &context,
                actual.view().into_dyn(),
                expected.view(),
                ACCUMULATED,
            );
        }
    }
}

fn check_pool(op: &str, kernel: Pool) {
    // Max picks an input value; the average divides a short f32 sum.
    let tolerance = if op == "max_pool2d" {
        EXACT
    } else {
        ELEMENTWISE
    };
    for case in cases("conv", op) {
        let expected = case.f32s("out");
        for (layout, input) in layouts(&case.f32s("input")) {
            let actual = kernel(
                fixed::<Ix4>(&input),
                pair(&case, "window"),
                pair(&case, "strides"),
                padding(&case),
            );
            let context = format!("{} ({layout})", case.label());
            assert_close(
                &context,
                actual.view().into_dyn(),
                expected.view(),
                tolerance,
            );
        }
    }
}

#[test]
fn max_pool2d() {
    check_pool("max_pool2d", conv::max_pool2d);
}

#[test]
fn avg_pool2d() {
    check_pool("avg_pool2d", conv::avg_pool2d);
}

#[test]
fn output_sizes_agree_with_fixtures() {
    // The pure size rules must predict every fixture's output shape.
    for case in cases("conv", "conv2d") {
        let input = case.f32s("input");
        let filter = case.f32s("filter");
        let (strides, dilations) = (pair(&case, "strides"), pair(&case, "dilations"));
        let out = case.f32s("out");
        let rows = conv::conv_output_size(
            input.shape()[1],
            filter.shape()[0],
            strides.0,
            dilations.0,
            padding(&case),
        );
        let cols = conv::conv_output_size(
            input.shape()[2],
            filter.shape()[1],
            strides.1,
            dilations.1,
            padding(&case),
        );
        assert_eq!(
            (rows, cols),
            (out.shape()[1], out.shape()[2]),
            "{}",
            case.label()
        );
    }
}
