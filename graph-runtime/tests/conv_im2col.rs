//! The im2col convolution (`conv2d_into`) against the direct kernel it
//! replaced (`conv2d_into_direct`, one small product per output row and
//! filter tap) on random shapes, strides, dilations and paddings, in
//! standard and other layouts, plus the cases that take its other paths:
//! few output channels (the planes), rows too wide for the padded-row
//! scratch, patches wider than a block, 1×1 filters, and filters with NaN
//! or infinite weights.
//!
//! 200 cases per property by default; set `PROPTEST_CASES` for longer runs.

use graph_runtime::kernels::conv::{self, Padding};
use ndarray::{Array4, ArrayView4, ArrayViewMut4};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(200);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Deterministic values in [-1, 1).
fn values(shape: (usize, usize, usize, usize), seed: u32) -> Array4<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    Array4::from_shape_simple_fn(shape, || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 8) as f32 / (1 << 23) as f32 - 1.0
    })
}

/// `x` with the same values, stored column-major.
fn column_major(x: &Array4<f32>) -> Array4<f32> {
    x.t().as_standard_layout().into_owned().reversed_axes()
}

/// `conv2d_into`'s signature.
type Conv = fn(
    ArrayView4<'_, f32>,
    ArrayView4<'_, f32>,
    (usize, usize),
    Padding,
    (usize, usize),
    ArrayViewMut4<'_, f32>,
);

/// One convolution's parameters.
#[derive(Clone, Copy, Debug)]
struct Case {
    batch: usize,
    image: (usize, usize, usize),
    kernel: (usize, usize, usize),
    strides: (usize, usize),
    dilations: (usize, usize),
    padding: Padding,
}

impl Case {
    fn out_shape(&self) -> (usize, usize, usize, usize) {
        let (h, w, _) = self.image;
        (
            self.batch,
            conv::conv_output_size(
                h,
                self.kernel.0,
                self.strides.0,
                self.dilations.0,
                self.padding,
            ),
            conv::conv_output_size(
                w,
                self.kernel.1,
                self.strides.1,
                self.dilations.1,
                self.padding,
            ),
            self.kernel.2,
        )
    }

    fn run(
        &self,
        kernel: Conv,
        input: &Array4<f32>,
        filter: &Array4<f32>,
        out: ArrayViewMut4<'_, f32>,
    ) {
        kernel(
            input.view(),
            filter.view(),
            self.strides,
            self.padding,
            self.dilations,
            out,
        );
    }

    /// Checks `conv2d_into` against the direct kernel on `input` and
    /// `filter`, with every combination of standard and column-major
    /// input, filter and output.
    fn check(&self, input: &Array4<f32>, filter: &Array4<f32>) {
        let mut expected = Array4::zeros(self.out_shape());
        self.run(conv::conv2d_into_direct, input, filter, expected.view_mut());
        let inputs = [input.clone(), column_major(input)];
        let filters = [filter.clone(), column_major(filter)];
        for (i, input) in inputs.iter().enumerate() {
            for (f, filter) in filters.iter().enumerate() {
                for column_major_out in [false, true] {
                    // Stale values in `out` must not leak into the result.
                    let mut out = Array4::from_elem(self.out_shape(), 7.0_f32);
                    let mut out_f = column_major(&out);
                    let target = if column_major_out {
                        out_f.view_mut()
                    } else {
                        out.view_mut()
                    };
                    self.run(conv::conv2d_into, input, filter, target);
                    let actual = if column_major_out { &out_f } else { &out };
                    let layouts = (i, f, column_major_out);
                    assert_close(actual, &expected, &format!("{self:?} layouts {layouts:?}"));
                }
            }
        }
    }
}

/// Equal to rounding: sums of up to a few thousand products of values in
/// [-1, 1), in a different order.
fn assert_close(actual: &Array4<f32>, expected: &Array4<f32>, context: &str) {
    assert_eq!(actual.shape(), expected.shape(), "{context}");
    for ((index, &a), &e) in actual.indexed_iter().zip(expected.iter()) {
        let same = a == e || (a.is_nan() && e.is_nan()) || (a - e).abs() <= 1e-4 * (1.0 + e.abs());
        assert!(same, "{context}: at {index:?} got {a}, expected {e}");
    }
}

fn padding() -> impl Strategy<Value = Padding> {
    prop_oneof![Just(Padding::Valid), Just(Padding::Same)]
}

fn case() -> impl Strategy<Value = Case> {
    (
        1_usize..4,
        (1_usize..12, 1_usize..12, 1_usize..10),
        (1_usize..6, 1_usize..6, 1_usize..20),
        (1_usize..4, 1_usize..4),
        (1_usize..3, 1_usize..3),
        padding(),
    )
        .prop_map(|(batch, image, kernel, strides, dilations, padding)| Case {
            batch,
            image,
            kernel,
            strides,
            dilations,
            padding,
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn im2col_matches_the_direct_kernel(case in case(), seed in any::<u32>()) {
        let (h, w, c) = case.image;
        let input = values((case.batch, h, w, c), seed);
        let filter = values((case.kernel.0, case.kernel.1, c, case.kernel.2), seed ^ 1);
        case.check(&input, &filter);
    }

    #[test]
    fn one_by_one_filters_match_the_direct_kernel(
        batch in 1_usize..4,
        image in (1_usize..9, 1_usize..9, 1_usize..40),
        out_channels in 1_usize..40,
        strides in (1_usize..3, 1_usize..3),
        padding in padding(),
        seed in any::<u32>(),
    ) {
        let case = Case {
            batch,
            image,
            kernel: (1, 1, out_channels),
            strides,
            dilations: (1, 1),
            padding,
        };
        let input = values((batch, image.0, image.1, image.2), seed);
        let filter = values((1, 1, image.2, out_channels), seed ^ 1);
        case.check(&input, &filter);
    }
}

proptest! {
    #![proptest_config(config())]

    /// At most six output channels, a unit horizontal stride and output
    /// rows of 8 or more take the planes (strips of 16 positions, with
    /// partial ones at the ends of rows).
    #[test]
    fn few_output_channels_match_the_direct_kernel(
        batch in 1_usize..3,
        image in (1_usize..10, 8_usize..40, 1_usize..5),
        kernel in (1_usize..6, 1_usize..6, 1_usize..7),
        row_stride in 1_usize..3,
        dilations in (1_usize..3, 1_usize..3),
        padding in padding(),
        seed in any::<u32>(),
    ) {
        let case = Case {
            batch,
            image,
            kernel,
            strides: (row_stride, 1),
            dilations,
            padding,
        };
        let (h, w, c) = image;
        let input = values((batch, h, w, c), seed);
        let filter = values((kernel.0, kernel.1, c, kernel.2), seed ^ 1);
        case.check(&input, &filter);
    }
}

/// Input rows wider than the padded-row scratch (2048 floats) take the
/// gathering path that treats border positions one by one.
#[test]
fn wide_rows_match_the_direct_kernel() {
    for (image, kernel, strides, dilations) in [
        ((3, 70, 32), (3, 3, 5), (1, 1), (1, 1)),
        ((4, 300, 8), (2, 5, 3), (1, 2), (1, 1)),
        ((3, 130, 17), (3, 3, 4), (2, 1), (1, 2)),
    ] {
        for padding in [Padding::Valid, Padding::Same] {
            let case = Case {
                batch: 2,
                image,
                kernel,
                strides,
                dilations,
                padding,
            };
            let input = values((2, image.0, image.1, image.2), 3);
            let filter = values((kernel.0, kernel.1, image.2, kernel.2), 4);
            case.check(&input, &filter);
        }
    }
}

/// Patches wider than a block's columns (4096 / 32 = 128 floats) are split
/// into blocks of columns whose products accumulate, across taps and
/// inside one tap's channels.
#[test]
fn wide_patches_match_the_direct_kernel() {
    for (image, kernel, dilations) in [
        ((7, 6, 40), (3, 3, 6), (1, 1)),
        ((5, 9, 200), (2, 2, 3), (1, 2)),
        ((6, 6, 13), (5, 4, 9), (1, 1)),
    ] {
        for padding in [Padding::Valid, Padding::Same] {
            let case = Case {
                batch: 3,
                image,
                kernel,
                strides: (1, 2),
                dilations,
                padding,
            };
            let input = values((3, image.0, image.1, image.2), 5);
            let filter = values((kernel.0, kernel.1, image.2, kernel.2), 6);
            case.check(&input, &filter);
        }
    }
}

/// Many positions: several blocks of rows, whose boundaries fall inside
/// output rows and images.
#[test]
fn many_blocks_match_the_direct_kernel() {
    let case = Case {
        batch: 5,
        image: (17, 13, 3),
        kernel: (5, 5, 8),
        strides: (1, 1),
        dilations: (1, 1),
        padding: Padding::Same,
    };
    let input = values((5, 17, 13, 3), 7);
    let filter = values((5, 5, 3, 8), 8);
    case.check(&input, &filter);
}

/// A NaN or infinite weight reaches only the outputs where its tap lands
/// inside the image, as in the direct kernel, which skips taps on padding.
#[test]
fn non_finite_weights_skip_padding() {
    let case = Case {
        batch: 2,
        image: (5, 4, 3),
        kernel: (3, 3, 2),
        strides: (1, 1),
        dilations: (1, 1),
        padding: Padding::Same,
    };
    let input = values((2, 5, 4, 3), 9);
    for special in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut filter = values((3, 3, 3, 2), 10);
        filter[[0, 0, 1, 0]] = special;
        filter[[2, 1, 2, 1]] = special;
        case.check(&input, &filter);
        // The corner tap (0, 0) reads padding at output (0, 0).
        let mut out = Array4::zeros(case.out_shape());
        case.run(conv::conv2d_into, &input, &filter, out.view_mut());
        assert!(out[[0, 0, 0, 0]].is_finite(), "{special}");
        assert!(!out[[0, 1, 1, 0]].is_finite(), "{special}");
    }
}
