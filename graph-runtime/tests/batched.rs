//! Batched matrix products against numpy's `matmul`
//! (`fixtures/kernels/batched.json`), including batch broadcasting and an
//! empty dimension; every case in both memory layouts.

mod common;

use common::{assert_close, assert_ops_covered, cases, fixed, layouts, ACCUMULATED};
use graph_runtime::kernels::batched;
use ndarray::{Ix2, Ix3};

#[test]
fn every_fixture_op_is_tested() {
    assert_ops_covered("batched", &["batch_matmul", "batch_matmul_shared"]);
}

#[test]
fn batch_matmul() {
    for case in cases("batched", "batch_matmul") {
        let [(_, a), (_, a_column)] = layouts(&case.f32s("a"));
        let [(_, b), (_, b_column)] = layouts(&case.f32s("b"));
        for (layout, a, b) in [("row-major", a, b), ("column-major", a_column, b_column)] {
            let actual = batched::batch_matmul(fixed::<Ix3>(&a), fixed::<Ix3>(&b));
            let context = format!("{} ({layout})", case.label());
            assert_close(
                &context,
                actual.view().into_dyn(),
                case.f32s("out").view(),
                ACCUMULATED,
            );
        }
    }
}

#[test]
fn batch_matmul_shared() {
    for case in cases("batched", "batch_matmul_shared") {
        let [(_, a), (_, a_column)] = layouts(&case.f32s("a"));
        let [(_, b), (_, b_column)] = layouts(&case.f32s("b"));
        for (layout, a, b) in [("row-major", a, b), ("column-major", a_column, b_column)] {
            let actual = batched::batch_matmul_shared(fixed::<Ix3>(&a), fixed::<Ix2>(&b));
            let context = format!("{} ({layout})", case.label());
            assert_close(
                &context,
                actual.view().into_dyn(),
                case.f32s("out").view(),
                ACCUMULATED,
            );
        }
    }
}
