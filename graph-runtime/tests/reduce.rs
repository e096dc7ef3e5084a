//! Reductions against numpy (`fixtures/kernels/reduce.json`): several axis
//! lists including none and all, `keep_dims` both ways, zero-length axes, NaN,
//! and argmax/argmin ties; every case in both memory layouts.

mod common;

use common::{assert_close, assert_ops_covered, cases, layouts, ELEMENTWISE};
use graph_runtime::kernels::reduce;
use ndarray::{ArrayD, ArrayViewD, IxDyn};

type Reduction = fn(ArrayViewD<'_, f32>, &[usize], bool) -> ArrayD<f32>;
type ArgReduction = fn(ArrayViewD<'_, f32>, usize) -> ArrayD<usize>;

fn check(op: &str, kernel: Reduction) {
    for case in cases("reduce", op) {
        let expected = case.f32s("out");
        let axes = case.indices("axes");
        for (layout, x) in layouts(&case.f32s("x")) {
            let actual = kernel(x.view(), &axes, case.flag("keep_dims"));
            let context = format!("{} ({layout})", case.label());
            assert_close(&context, actual.view(), expected.view(), ELEMENTWISE);
        }
    }
}

fn check_arg(op: &str, kernel: ArgReduction) {
    for case in cases("reduce", op) {
        let expected = case.usizes("out");
        for (layout, x) in layouts(&case.f32s("x")) {
            assert_eq!(
                kernel(x.view(), case.index("axis")),
                expected,
                "{} ({layout})",
                case.label()
            );
        }
    }
}

#[test]
fn every_fixture_op_is_tested() {
    assert_ops_covered("reduce", &["sum", "mean", "max", "min", "argmax", "argmin"]);
}

#[test]
fn sum() {
    check("sum", reduce::sum::<IxDyn>);
}

#[test]
fn mean() {
    check("mean", reduce::mean::<IxDyn>);
}

#[test]
fn max() {
    check("max", reduce::max::<IxDyn>);
}

#[test]
fn min() {
    check("min", reduce::min::<IxDyn>);
}

#[test]
fn argmax() {
    check_arg("argmax", reduce::argmax::<IxDyn>);
}

#[test]
fn argmin() {
    check_arg("argmin", reduce::argmin::<IxDyn>);
}
