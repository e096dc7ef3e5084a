//! Extrema, comparisons and `select` against numpy
//! (`fixtures/kernels/binary.json`), every case in both memory layouts.

mod common;

use common::{assert_close, assert_ops_covered, cases, layouts, Case, EXACT};
use graph_runtime::kernels::binary;
use ndarray::{ArrayD, ArrayViewD, IxDyn};

type Compare = fn(ArrayViewD<'_, f32>, ArrayViewD<'_, f32>) -> ArrayD<bool>;
type Extremum = fn(ArrayViewD<'_, f32>, ArrayViewD<'_, f32>) -> ArrayD<f32>;

fn operands(case: &Case) -> impl Iterator<Item = (&'static str, ArrayD<f32>, ArrayD<f32>)> {
    let [(layout, a), (_, a_column)] = layouts(&case.f32s("a"));
    let [(_, b), (column, b_column)] = layouts(&case.f32s("b"));
    [(layout, a, b), (column, a_column, b_column)].into_iter()
}

fn check_extremum(op: &str, kernel: Extremum) {
    for case in cases("binary", op) {
        let expected = case.f32s("out");
        for (layout, a, b) in operands(&case) {
            let actual = kernel(a.view(), b.view());
            // Choosing one operand involves no rounding.
            assert_close(
                &format!("{} ({layout})", case.label()),
                actual.view(),
                expected.view(),
                EXACT,
            );
        }
    }
}

fn check_comparison(op: &str, kernel: Compare) {
    for case in cases("binary", op) {
        let expected = case.bools("out");
        for (layout, a, b) in operands(&case) {
            assert_eq!(
                kernel(a.view(), b.view()),
                expected,
                "{} ({layout})",
                case.label()
            );
        }
    }
}

#[test]
fn every_fixture_op_is_tested() {
    assert_ops_covered(
        "binary",
        &["maximum", "minimum", "gt", "ge", "lt", "le", "eq", "select"],
    );
}

#[test]
fn maximum() {
    check_extremum("maximum", binary::maximum::<IxDyn>);
}

#[test]
fn minimum() {
    check_extremum("minimum", binary::minimum::<IxDyn>);
}

#[test]
fn gt() {
    check_comparison("gt", binary::gt::<IxDyn>);
}

#[test]
fn ge() {
    check_comparison("ge", binary::ge::<IxDyn>);
}

#[test]
fn lt() {
    check_comparison("lt", binary::lt::<IxDyn>);
}

#[test]
fn le() {
    check_comparison("le", binary::le::<IxDyn>);
}

#[test]
fn eq() {
    check_comparison("eq", binary::eq::<IxDyn>);
}

#[test]
fn select() {
    for case in cases("binary", "select") {
        let expected = case.f32s("out");
        let [(_, mask), (_, mask_column)] = layouts(&case.bools("mask"));
        let [(_, a), (_, a_column)] = layouts(&case.f32s("a"));
        let [(_, b), (_, b_column)] = layouts(&case.f32s("b"));
        let row_major: ArrayD<f32> = binary::select(mask.view(), a.view(), b.view());
        let column_major: ArrayD<f32> =
            binary::select(mask_column.view(), a_column.view(), b_column.view());
        assert_close(&case.label(), row_major.view(), expected.view(), EXACT);
        assert_close(
            &format!("{} (column-major)", case.label()),
            column_major.view(),
            expected.view(),
            EXACT,
        );
    }
}

#[test]
fn fixed_rank_output_from_mixed_ranks() {
    // The macro's usual call: static ranks in, static rank out.
    let column = ndarray::array![[1.0_f32], [4.0], [2.0]];
    let row = ndarray::array![3.0_f32, 0.0];
    let y: ndarray::Array2<bool> = binary::ge(column.view(), row.view());
    assert_eq!(
        y,
        ndarray::array![[false, true], [true, true], [false, true]]
    );
}
