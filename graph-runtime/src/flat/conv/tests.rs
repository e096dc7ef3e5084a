//! Window arithmetic, convolutions and pools against direct sums.

use super::*;

#[test]
fn covered_ranges_match_taps() {
    // Every (input, window, stride, padding) up to small sizes: the
    // covered range is exactly the taps that land inside.
    for input in 1..9 {
        for kernel in 1..5 {
            for stride in 1..4 {
                for padding in [Padding::Valid, Padding::Same] {
                    let axis = Window::new(input, kernel, stride, 1, padding);
                    for out in 0..axis.output {
                        let inside: ([usize; 8], usize) = (0..kernel)
                            .filter_map(|t| axis.source(out, t))
                            .fold(([0; 8], 0), |(mut list, n), p| {
                                list[n] = p;
                                (list, n + 1)
                            });
                        let (lo, hi) = axis.covered(out);
                        assert!(lo < hi, "{input} {kernel} {stride} {padding:?} {out}");
                        assert_eq!(hi - lo, inside.1);
                        assert_eq!(inside.0[0], lo);
                    }
                }
            }
        }
    }
}

#[test]
fn spans_match_sources() {
    for input in 0..9 {
        for kernel in 1..4 {
            for stride in 1..4 {
                for dilation in 1..3 {
                    for padding in [Padding::Valid, Padding::Same] {
                        let axis = Window::new(input, kernel, stride, dilation, padding);
                        for tap in 0..kernel {
                            let expected = (0..axis.output)
                                .filter(|&x| axis.source(x, tap).is_some())
                                .count();
                            match axis.span(tap) {
                                None => assert_eq!(expected, 0),
                                Some((x0, x1, first)) => {
                                    assert_eq!(x1 - x0, expected);
                                    assert_eq!(axis.source(x0, tap), Some(first));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn zero_channels_and_empty_outputs_write_nothing_or_zeros() {
    let dims = Conv2dDims {
        n: 1,
        h: 2,
        w: 2,
        c: 0,
        kh: 3,
        kw: 3,
        o: 2,
        strides: (1, 1),
        dilations: (1, 1),
        padding: Padding::Same,
    };
    let mut out = [9.0_f32; 8];
    conv2d(&[], &[], dims, &mut out);
    assert_eq!(out, [0.0; 8]);
    let valid = Conv2dDims {
        padding: Padding::Valid,
        c: 1,
        ..dims
    };
    let mut none: [f32; 0] = [];
    conv2d(&[1.0; 4], &[1.0; 18], valid, &mut none);
    // Nothing reads the input: its gradient is 0.
    let mut dx = [9.0_f32; 4];
    conv2d_input_grad(&[], &[1.0; 18], valid, &mut dx);
    assert_eq!(dx, [0.0; 4]);
}

#[test]
fn kernels_by_hand() {
    // 1-D: input [1, 2, 3], filter [1, 2], VALID: y = [5, 8].
    let dims = Conv2dDims {
        n: 1,
        h: 1,
        w: 3,
        c: 1,
        kh: 1,
        kw: 2,
        o: 1,
        strides: (1, 1),
        dilations: (1, 1),
        padding: Padding::Valid,
    };
    let mut y = [0.0_f32; 2];
    conv2d(&[1.0, 2.0, 3.0], &[1.0, 2.0], dims, &mut y);
    assert_eq!(y, [5.0, 8.0]);
    let mut dx = [0.0_f32; 3];
    conv2d_input_grad(&[10.0, 100.0], &[1.0, 2.0], dims, &mut dx);
    assert_eq!(dx, [10.0, 120.0, 200.0]);
    let mut df = [0.0_f32; 2];
    conv2d_filter_grad(&[1.0, 2.0, 3.0], &[10.0, 100.0], dims, &mut df);
    assert_eq!(df, [210.0, 320.0]);
    // Pools: windows [3, 7] and [7, 7]; the tie goes to the first 7.
    let pool = Pool2dDims {
        n: 1,
        h: 1,
        w: 3,
        c: 1,
        window: (1, 2),
        strides: (1, 1),
        padding: Padding::Valid,
    };
    let mut pooled = [0.0_f32; 2];
    max_pool2d(&[3.0, 7.0, 7.0], pool, &mut pooled);
    assert_eq!(pooled, [7.0, 7.0]);
    let mut dx = [0.0_f32; 3];
    max_pool2d_grad(&[3.0, 7.0, 7.0], &[1.0, 10.0], pool, &mut dx);
    assert_eq!(dx, [0.0, 11.0, 0.0]);
    avg_pool2d(&[3.0, 7.0, 7.0], pool, &mut pooled);
    assert_eq!(pooled, [5.0, 7.0]);
    avg_pool2d_grad(&[2.0, 10.0], pool, &mut dx);
    assert_eq!(dx, [1.0, 6.0, 5.0]);
    // A NaN window sends its gradient to its first NaN.
    max_pool2d_grad(&[1.0, f32::NAN, f32::NAN], &[1.0, 10.0], pool, &mut dx);
    assert_eq!(dx, [0.0, 11.0, 0.0]);
}
