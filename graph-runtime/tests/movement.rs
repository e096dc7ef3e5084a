//! Data-movement kernels against numpy (`fixtures/kernels/movement.json`),
//! every case in both memory layouts; results must be bit-for-bit equal and
//! in standard layout.

mod common;

use common::{assert_close, assert_ops_covered, cases, layouts, Case, EXACT};
use graph_runtime::kernels::movement;
use ndarray::{ArrayD, ArrayViewD, IxDyn};

fn check(op: &str, kernel: impl Fn(&Case, ArrayViewD<'_, f32>) -> ArrayD<f32>) {
    for case in cases("movement", op) {
        let expected = case.f32s("out");
        for (layout, x) in layouts(&case.f32s("x")) {
            let actual = kernel(&case, x.view());
            let context = format!("{} ({layout})", case.label());
            assert!(
                actual.is_standard_layout(),
                "{context}: result not in standard layout"
            );
            assert_close(&context, actual.view(), expected.view(), EXACT);
        }
    }
}

#[test]
fn every_fixture_op_is_tested() {
    assert_ops_covered(
        "movement",
        &[
            "permute",
            "transpose",
            "reshape",
            "concat",
            "slice",
            "broadcast_to",
            "expand_dims",
            "squeeze",
            "pad",
        ],
    );
}

#[test]
fn permute() {
    check("permute", |case, x| {
        movement::permute(x, &case.indices("axes"))
    });
}

#[test]
fn transpose() {
    check("transpose", |_, x| movement::transpose(x));
}

#[test]
fn reshape() {
    check("reshape", |case, x| {
        movement::reshape::<IxDyn>(x, &case.indices("shape"))
    });
}

#[test]
fn slice() {
    check("slice", |case, x| {
        movement::slice(
            x,
            case.index("axis"),
            case.index("start"),
            case.index("end"),
        )
    });
}

#[test]
fn broadcast_to() {
    check("broadcast_to", |case, x| {
        movement::broadcast_to::<IxDyn>(x, &case.indices("shape"))
    });
}

#[test]
fn expand_dims() {
    check("expand_dims", |case, x| {
        movement::expand_dims::<IxDyn>(x, case.index("axis"))
    });
}

#[test]
fn squeeze() {
    check("squeeze", |case, x| {
        movement::squeeze::<IxDyn>(x, &case.indices("axes"))
    });
}

#[test]
fn concat() {
    for case in cases("movement", "concat") {
        let expected = case.f32s("out");
        let parts = case.f32_list("parts");
        // Mix layouts: even parts row-major, odd parts column-major.
        let mixed: Vec<ArrayD<f32>> = parts
            .iter()
            .enumerate()
            .map(|(i, part)| {
                let [(_, row), (_, column)] = layouts(part);
                if i % 2 == 0 {
                    row
                } else {
                    column
                }
            })
            .collect();
        for (layout, parts) in [("row-major", &parts), ("mixed", &mixed)] {
            let views: Vec<ArrayViewD<'_, f32>> = parts.iter().map(|part| part.view()).collect();
            let actual = movement::concat(&views, case.index("axis"));
            assert_close(
                &format!("{} ({layout})", case.label()),
                actual.view(),
                expected.view(),
                EXACT,
            );
        }
    }
}

/// The `[before, after]` pairs of a `pad` case.
fn paddings(case: &Case) -> Vec<[usize; 2]> {
    case.get("paddings")
        .as_array()
        .expect("a list of pairs")
        .iter()
        .map(|pair| {
            let pair: Vec<usize> = pair
                .as_array()
                .expect("a pair")
                .iter()
                .map(|v| usize::try_from(v.as_u64().expect("an integer")).expect("a size"))
                .collect();
            [pair[0], pair[1]]
        })
        .collect()
}

#[test]
fn pad() {
    check("pad", |case, x| {
        movement::pad(x, &paddings(case), case.scalar("value"))
    });
}

/// `flat::pad`, the `#[no_std]` kernel, on the same cases: row-major in and
/// out, so one layout.
#[test]
fn flat_pad() {
    for case in cases("movement", "pad") {
        let x = case.f32s("x");
        let expected = case.f32s("out");
        let data: Vec<f32> = x.iter().copied().collect();
        let mut out = vec![f32::NAN; expected.len()];
        graph_runtime::flat::pad(
            &data,
            x.shape(),
            &paddings(&case),
            case.scalar("value"),
            &mut out,
        );
        let actual = ArrayD::from_shape_vec(expected.raw_dim(), out).expect("the padded shape");
        assert_close(&case.label(), actual.view(), expected.view(), EXACT);
    }
}
