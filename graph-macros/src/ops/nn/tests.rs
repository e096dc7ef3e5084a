//! The family's shape rules on NHWC shapes.

use super::shape::spatial;
use super::*;
use crate::shape::tests::shape;

#[test]
fn spatial_sizes_match_tensorflow() {
    // Hand-computed from TF's formulas.
    assert_eq!(spatial(8, 3, 1, 1, Padding::Valid, "h"), Ok(6));
    assert_eq!(spatial(8, 3, 1, 1, Padding::Same, "h"), Ok(8));
    assert_eq!(spatial(8, 2, 2, 1, Padding::Same, "h"), Ok(4));
    assert_eq!(spatial(7, 4, 2, 1, Padding::Same, "h"), Ok(4));
    assert_eq!(spatial(7, 4, 2, 1, Padding::Valid, "h"), Ok(2));
    assert_eq!(spatial(8, 3, 1, 2, Padding::Valid, "h"), Ok(4));
    assert!(spatial(2, 3, 1, 1, Padding::Valid, "h").is_err());
}

#[test]
fn conv_and_pool_shapes() {
    let conv = Nn::Conv2d {
        strides: [1, 1],
        padding: Padding::Valid,
        dilation: [1, 1],
    };
    assert_eq!(
        infer(&conv, &[&shape("n, 8, 8, 1"), &shape("3, 3, 1, 4")]),
        Ok(shape("n, 6, 6, 4"))
    );
    assert!(infer(&conv, &[&shape("n, 8, 8, 2"), &shape("3, 3, 1, 4")]).is_err());
    assert!(infer(&conv, &[&shape("n, h, 8, 1"), &shape("3, 3, 1, 4")]).is_err());
    let pool = Nn::Pool2d {
        kind: Pool::Max,
        window: [2, 2],
        strides: [2, 2],
        padding: Padding::Valid,
    };
    assert_eq!(
        infer(&pool, &[&shape("n, 6, 6, 4")]),
        Ok(shape("n, 3, 3, 4"))
    );
}
