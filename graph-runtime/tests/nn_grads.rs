//! The gradients of convolution, pools and normalisations, and the
//! training form of batch normalisation, against JAX
//! (`fixtures/kernels/nn_grads.json`, written by
//! `tests/reference/nn_grads.py` with `jax.vjp` in float64): the ndarray
//! kernels in row-major and column-major layouts, and the `flat` slice
//! kernels, which must agree with them bit for bit where they share their
//! formulas (pools, norms). The `flat` forward kernels are also checked
//! against the forward fixtures (`conv.json`, `norm.json`).
//!
//! A second, independent reference: central finite differences in f64 of
//! forward passes written out below as plain loops, on tiny cases, for
//! every gradient kernel; and max-pool ties worked out by hand.
//!
//! Tolerances (`|actual − expected| ≤ abs + rel·|expected|`):
//! - convolution gradients, [`ACCUMULATED`] (rel 1e-4, abs 1e-5): f32 sums
//!   of at most 126 products of values of order 1, in the SIMD kernels'
//!   order; the rounding error grows like √terms·2⁻²⁴·|terms| ≈ 1e-6, ten
//!   times less than the bound, which leaves room for cancellation;
//! - pool gradients, [`ELEMENTWISE`] (rel 1e-5, abs 1e-6): at most nine
//!   f32 additions of `grad` (or `grad / count`) per input element;
//! - norms, [`ELEMENTWISE`]: f64 arithmetic rounded once to f32 (the
//!   reference too), so within an ulp or two; the parameter gradients,
//!   summed here in f64 from the f32 `x̂`, inherit its half-ulp errors;
//! - finite differences, [`FINITE_DIFFERENCE`] (rel 1e-4, abs 1e-5): the
//!   f32 kernels' rounding (about 1e-6 on these sizes) dominates the
//!   differences' own error (truncation h² ≈ 1e-12, cancellation
//!   2⁻⁵³/h ≈ 1e-11 with h = 1e-5).

mod common;

use common::{
    assert_close, assert_ops_covered, cases, fixed, layouts, Case, Tolerance, ACCUMULATED,
    ELEMENTWISE, EXACT,
};
use graph_runtime::flat::{self, Conv2dDims, Pool2dDims};
use graph_runtime::kernels::conv::{self, conv_padding, Padding};
use graph_runtime::kernels::{conv_grad, nn, norm_grad};
use ndarray::{Array1, Array4, ArrayD, ArrayView4, Dimension, Ix1, Ix4, IxDyn, ShapeBuilder};

const FAMILY: &str = "nn_grads";

const FINITE_DIFFERENCE: Tolerance = Tolerance {
    rel: 1e-4,
    abs: 1e-5,
};

#[test]
fn every_fixture_op_is_tested() {
    assert_ops_covered(
        FAMILY,
        &[
            "conv2d",
            "max_pool2d",
            "avg_pool2d",
            "layer_norm",
            "batch_norm_train",
        ],
    );
}

// ---------------------------------------------------------------- helpers

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

fn dim4(shape: &[usize]) -> (usize, usize, usize, usize) {
    let [a, b, c, d] = <[usize; 4]>::try_from(shape).expect("rank 4");
    (a, b, c, d)
}

/// The elements of a fixture tensor (standard layout) as a slice.
fn data(x: &ArrayD<f32>) -> &[f32] {
    x.as_slice().expect("fixture tensors are row-major")
}

/// A flat kernel's output as an array of `shape`, for `assert_close`.
fn shaped(values: Vec<f32>, shape: &[usize]) -> ArrayD<f32> {
    ArrayD::from_shape_vec(IxDyn(shape), values).expect("output of the shape")
}

/// Zeros of `shape` in row-major and in column-major layout, for the
/// outputs of the ndarray kernels.
fn outputs(shape: &[usize]) -> [(&'static str, ArrayD<f32>); 2] {
    [
        ("row-major out", ArrayD::zeros(IxDyn(shape))),
        ("column-major out", ArrayD::zeros(IxDyn(shape).f())),
    ]
}

/// Asserts that two results are the same bit for bit.
fn assert_identical(context: &str, a: &ArrayD<f32>, b: &ArrayD<f32>) {
    assert_eq!(a.shape(), b.shape(), "{context}: shape");
    for ((position, x), y) in a.indexed_iter().zip(b.iter()) {
        assert_eq!(
            x.to_bits(),
            y.to_bits(),
            "{context} at {:?}: {x:e} vs {y:e}",
            position.slice()
        );
    }
}

#[allow(clippy::many_single_char_names)] // The NHWC and HWIO letters.
fn conv_dims(input: &[usize], filter: &[usize], case: &Case) -> Conv2dDims {
    let (n, h, w, c) = dim4(input);
    let (kh, kw, _, o) = dim4(filter);
    Conv2dDims {
        n,
        h,
        w,
        c,
        kh,
        kw,
        o,
        strides: pair(case, "strides"),
        dilations: pair(case, "dilations"),
        padding: padding(case),
    }
}

fn pool_dims(input: &[usize], case: &Case) -> Pool2dDims {
    let (n, h, w, c) = dim4(input);
    Pool2dDims {
        n,
        h,
        w,
        c,
        window: pair(case, "window"),
        strides: pair(case, "strides"),
        padding: padding(case),
    }
}

/// `(rows, features)` of a tensor normalised over its last axis.
fn rows_features(shape: &[usize]) -> (usize, usize) {
    let (&features, lead) = shape.split_last().expect("rank at least 1");
    (lead.iter().product(), features)
}

/// `Σ_rows a·b` per feature (last axis), in f64 rounded to f32: the
/// reduction `graph!` builds for the gradients of `gamma` and `scale`.
fn feature_sums(a: &ArrayD<f32>, b: Option<&ArrayD<f32>>) -> ArrayD<f32> {
    let (_, features) = rows_features(a.shape());
    let mut sums = vec![0.0_f64; features];
    for (i, &v) in a.iter().enumerate() {
        let w = b.map_or(1.0, |b| f64::from(data(b)[i]));
        sums[i % features] += f64::from(v) * w;
    }
    #[allow(clippy::cast_possible_truncation)]
    let sums = sums.into_iter().map(|s| s as f32).collect();
    shaped(sums, &[features])
}

// ---------------------------------------------------------------- against JAX

#[test]
fn conv2d_gradients_match_jax() {
    for case in cases(FAMILY, "conv2d") {
        let (input, filter, grad) = (case.f32s("input"), case.f32s("filter"), case.f32s("grad"));
        let (input_grad, filter_grad) = (case.f32s("input_grad"), case.f32s("filter_grad"));
        let (strides, dilations, pad) = (
            pair(&case, "strides"),
            pair(&case, "dilations"),
            padding(&case),
        );
        for ((layout, grad), (_, filter)) in layouts(&grad).into_iter().zip(layouts(&filter)) {
            for (out_layout, mut out) in outputs(input.shape()) {
                conv_grad::conv2d_input_grad_into(
                    fixed::<Ix4>(&grad),
                    fixed::<Ix4>(&filter),
                    strides,
                    pad,
                    dilations,
                    out.view_mut().into_dimensionality::<Ix4>().unwrap(),
                );
                let context = format!("{} input grad ({layout}, {out_layout})", case.label());
                assert_close(&context, out.view(), input_grad.view(), ACCUMULATED);
            }
        }
        for ((layout, input), (_, grad)) in layouts(&input).into_iter().zip(layouts(&grad)) {
            for (out_layout, mut out) in outputs(filter.shape()) {
                conv_grad::conv2d_filter_grad_into(
                    fixed::<Ix4>(&input),
                    fixed::<Ix4>(&grad),
                    strides,
                    pad,
                    dilations,
                    out.view_mut().into_dimensionality::<Ix4>().unwrap(),
                );
                let context = format!("{} filter grad ({layout}, {out_layout})", case.label());
                assert_close(&context, out.view(), filter_grad.view(), ACCUMULATED);
            }
        }
        // The forward, through the existing kernel and the flat one.
        let out = case.f32s("out");
        let std_out = conv::conv2d(
            fixed::<Ix4>(&input),
            fixed::<Ix4>(&filter),
            strides,
            pad,
            dilations,
        );
        assert_close(
            &format!("{} forward", case.label()),
            std_out.view().into_dyn(),
            out.view(),
            ACCUMULATED,
        );
        let dims = conv_dims(input.shape(), filter.shape(), &case);
        assert_eq!(dims.output_len(), out.len(), "{}", case.label());
        let mut flat_out = vec![f32::NAN; dims.output_len()];
        flat::conv2d(data(&input), data(&filter), dims, &mut flat_out);
        let flat_out = shaped(flat_out, out.shape());
        assert_close(
            &format!("{} flat forward", case.label()),
            flat_out.view(),
            out.view(),
            ACCUMULATED,
        );
        let mut dx = vec![f32::NAN; dims.input_len()];
        flat::conv2d_input_grad(data(&grad), data(&filter), dims, &mut dx);
        assert_close(
            &format!("{} flat input grad", case.label()),
            shaped(dx, input.shape()).view(),
            input_grad.view(),
            ACCUMULATED,
        );
        let mut df = vec![f32::NAN; dims.filter_len()];
        flat::conv2d_filter_grad(data(&input), data(&grad), dims, &mut df);
        assert_close(
            &format!("{} flat filter grad", case.label()),
            shaped(df, filter.shape()).view(),
            filter_grad.view(),
            ACCUMULATED,
        );
    }
}

/// `(input, grad, window, strides, padding, out)`: the ndarray max-pool
/// gradient; the average's ignores `input`.
type PoolGrad = fn(
    ArrayView4<'_, f32>,
    ArrayView4<'_, f32>,
    (usize, usize),
    (usize, usize),
    Padding,
    ndarray::ArrayViewMut4<'_, f32>,
);

#[allow(clippy::needless_pass_by_value)] // The signature of `max_pool2d_grad_into`.
fn avg_pool2d_grad_with_input(
    _input: ArrayView4<'_, f32>,
    grad: ArrayView4<'_, f32>,
    window: (usize, usize),
    strides: (usize, usize),
    padding: Padding,
    out: ndarray::ArrayViewMut4<'_, f32>,
) {
    conv_grad::avg_pool2d_grad_into(grad, window, strides, padding, out);
}

fn check_pool(op: &str, std_grad: PoolGrad) {
    for case in cases(FAMILY, op) {
        let (input, grad, expected) = (
            case.f32s("input"),
            case.f32s("grad"),
            case.f32s("input_grad"),
        );
        let (window, strides, pad) = (
            pair(&case, "window"),
            pair(&case, "strides"),
            padding(&case),
        );
        let dims = pool_dims(input.shape(), &case);
        let mut flat_grad = vec![f32::NAN; dims.input_len()];
        if op == "max_pool2d" {
            flat::max_pool2d_grad(data(&input), data(&grad), dims, &mut flat_grad);
        } else {
            flat::avg_pool2d_grad(data(&grad), dims, &mut flat_grad);
        }
        let flat_grad = shaped(flat_grad, input.shape());
        assert_close(
            &format!("{} flat grad", case.label()),
            flat_grad.view(),
            expected.view(),
            ELEMENTWISE,
        );
        for ((layout, input), (_, grad)) in layouts(&input).into_iter().zip(layouts(&grad)) {
            for (out_layout, mut out) in outputs(input.shape()) {
                std_grad(
                    fixed::<Ix4>(&input),
                    fixed::<Ix4>(&grad),
                    window,
                    strides,
                    pad,
                    out.view_mut().into_dimensionality::<Ix4>().unwrap(),
                );
                let context = format!("{} grad ({layout}, {out_layout})", case.label());
                assert_close(&context, out.view(), expected.view(), ELEMENTWISE);
                assert_identical(&format!("{context} vs flat"), &out, &flat_grad);
            }
        }
        // The forward: the ndarray kernel and the flat one, bit for bit.
        let out = case.f32s("out");
        let forward = if op == "max_pool2d" {
            conv::max_pool2d(fixed::<Ix4>(&input), window, strides, pad)
        } else {
            conv::avg_pool2d(fixed::<Ix4>(&input), window, strides, pad)
        };
        let tolerance = if op == "max_pool2d" {
            EXACT
        } else {
            ELEMENTWISE
        };
        let forward = forward.into_dyn();
        assert_close(
            &format!("{} forward", case.label()),
            forward.view(),
            out.view(),
            tolerance,
        );
        let mut flat_out = vec![f32::NAN; dims.output_len()];
        if op == "max_pool2d" {
            flat::max_pool2d(data(&input), dims, &mut flat_out);
        } else {
            flat::avg_pool2d(data(&input), dims, &mut flat_out);
        }
        assert_identical(
            &format!("{} flat forward", case.label()),
            &shaped(flat_out, out.shape()),
            &forward,
        );
    }
}

#[test]
fn max_pool2d_gradient_matches_jax() {
    check_pool("max_pool2d", conv_grad::max_pool2d_grad_into);
}

#[test]
fn avg_pool2d_gradient_matches_jax() {
    check_pool("avg_pool2d", avg_pool2d_grad_with_input);
}

#[test]
fn layer_norm_gradients_match_jax() {
    for case in cases(FAMILY, "layer_norm") {
        let (x, gamma, beta, grad) = (
            case.f32s("x"),
            case.f32s("gamma"),
            case.f32s("beta"),
            case.f32s("grad"),
        );
        let epsilon = case.scalar("epsilon");
        let sizes = rows_features(x.shape());
        let (x_grad, normalized) = (case.f32s("x_grad"), case.f32s("normalized"));
        // Flat kernels.
        let mut flat_dx = vec![f32::NAN; x.len()];
        flat::layer_norm_grad(
            data(&x),
            data(&gamma),
            data(&grad),
            sizes,
            epsilon,
            &mut flat_dx,
        );
        let flat_dx = shaped(flat_dx, x.shape());
        assert_close(
            &format!("{} flat x grad", case.label()),
            flat_dx.view(),
            x_grad.view(),
            ELEMENTWISE,
        );
        let mut flat_hat = vec![f32::NAN; x.len()];
        flat::layer_norm_normalized(data(&x), sizes, epsilon, &mut flat_hat);
        let flat_hat = shaped(flat_hat, x.shape());
        assert_close(
            &format!("{} flat x̂", case.label()),
            flat_hat.view(),
            normalized.view(),
            ELEMENTWISE,
        );
        // The parameters' gradients as the macro builds them from x̂.
        assert_close(
            &format!("{} d_gamma = Σ grad·x̂", case.label()),
            feature_sums(&grad, Some(&flat_hat)).view(),
            case.f32s("gamma_grad").view(),
            ELEMENTWISE,
        );
        assert_close(
            &format!("{} d_beta = Σ grad", case.label()),
            feature_sums(&grad, None).view(),
            case.f32s("beta_grad").view(),
            ELEMENTWISE,
        );
        let mut flat_y = vec![f32::NAN; x.len()];
        flat::layer_norm(
            data(&x),
            data(&gamma),
            data(&beta),
            sizes,
            epsilon,
            &mut flat_y,
        );
        let flat_y = shaped(flat_y, x.shape());
        assert_close(
            &format!("{} flat forward", case.label()),
            flat_y.view(),
            case.f32s("out").view(),
            ELEMENTWISE,
        );
        // ndarray kernels, in both layouts, bit for bit as the flat ones.
        let (gamma, beta) = (fixed::<Ix1>(&gamma), fixed::<Ix1>(&beta));
        for ((layout, x), (_, grad)) in layouts(&x).into_iter().zip(layouts(&grad)) {
            for (out_layout, mut out) in outputs(x.shape()) {
                norm_grad::layer_norm_grad_into(
                    x.view(),
                    gamma,
                    grad.view(),
                    epsilon,
                    out.view_mut(),
                );
                let context = format!("{} x grad ({layout}, {out_layout})", case.label());
                assert_identical(&context, &out, &flat_dx);
                norm_grad::layer_norm_normalized_into(x.view(), epsilon, out.view_mut());
                let context = format!("{} x̂ ({layout}, {out_layout})", case.label());
                assert_identical(&context, &out, &flat_hat);
            }
            let context = format!("{} forward ({layout})", case.label());
            let y = nn::layer_norm(x.view(), gamma, beta, epsilon);
            assert_identical(&context, &y, &flat_y);
        }
    }
}

#[test]
#[allow(clippy::too_many_lines)] // One case's every output, flat and ndarray.
fn batch_norm_training_forward_and_gradient_match_jax() {
    for case in cases(FAMILY, "batch_norm_train") {
        let (x, scale, offset, grad) = (
            case.f32s("x"),
            case.f32s("scale"),
            case.f32s("offset"),
            case.f32s("grad"),
        );
        let epsilon = case.scalar("epsilon");
        let sizes = rows_features(x.shape());
        let features = sizes.1;
        let (x_grad, normalized) = (case.f32s("x_grad"), case.f32s("normalized"));
        // Flat kernels.
        let mut flat_y = vec![f32::NAN; x.len()];
        let mut flat_mean = vec![f32::NAN; features];
        let mut flat_var = vec![f32::NAN; features];
        flat::batch_norm_train(
            data(&x),
            data(&scale),
            data(&offset),
            sizes,
            epsilon,
            &mut flat_y,
            &mut flat_mean,
            &mut flat_var,
        );
        let (flat_y, flat_mean, flat_var) = (
            shaped(flat_y, x.shape()),
            shaped(flat_mean, &[features]),
            shaped(flat_var, &[features]),
        );
        for (what, actual, key) in [
            ("forward", &flat_y, "out"),
            ("mean", &flat_mean, "mean"),
            ("variance", &flat_var, "variance"),
        ] {
            let context = format!("{} flat {what}", case.label());
            assert_close(&context, actual.view(), case.f32s(key).view(), ELEMENTWISE);
        }
        let mut flat_hat = vec![f32::NAN; x.len()];
        flat::batch_norm_train_normalized(data(&x), sizes, epsilon, &mut flat_hat);
        let flat_hat = shaped(flat_hat, x.shape());
        assert_close(
            &format!("{} flat x̂", case.label()),
            flat_hat.view(),
            normalized.view(),
            ELEMENTWISE,
        );
        let mut flat_dx = vec![f32::NAN; x.len()];
        flat::batch_norm_train_grad(
            data(&x),
            data(&scale),
            data(&grad),
            sizes,
            epsilon,
            &mut flat_dx,
        );
        let flat_dx = shaped(flat_dx, x.shape());
        assert_close(
            &format!("{} flat x grad", case.label()),
            flat_dx.view(),
            x_grad.view(),
            ELEMENTWISE,
        );
        assert_close(
            &format!("{} d_scale = Σ grad·x̂", case.label()),
            feature_sums(&grad, Some(&flat_hat)).view(),
            case.f32s("scale_grad").view(),
            ELEMENTWISE,
        );
        assert_close(
            &format!("{} d_offset = Σ grad", case.label()),
            feature_sums(&grad, None).view(),
            case.f32s("offset_grad").view(),
            ELEMENTWISE,
        );
        // ndarray kernels, in both layouts, bit for bit as the flat ones.
        let (scale, offset) = (fixed::<Ix1>(&scale), fixed::<Ix1>(&offset));
        for ((layout, x), (_, grad)) in layouts(&x).into_iter().zip(layouts(&grad)) {
            for (out_layout, mut out) in outputs(x.shape()) {
                let mut mean = Array1::from_elem(features, f32::NAN);
                // Statistics into a strided view.
                let mut var = Array1::from_elem(2 * features, f32::NAN);
                norm_grad::batch_norm_train_into(
                    x.view(),
                    scale,
                    offset,
                    epsilon,
                    out.view_mut(),
                    mean.view_mut(),
                    var.slice_mut(ndarray::s![..;2]),
                );
                let context = format!("{} ({layout}, {out_layout})", case.label());
                assert_identical(&format!("{context} forward"), &out, &flat_y);
                assert_identical(&format!("{context} mean"), &mean.into_dyn(), &flat_mean);
                assert_identical(
                    &format!("{context} variance"),
                    &var.slice(ndarray::s![..;2]).to_owned().into_dyn(),
                    &flat_var,
                );
                norm_grad::batch_norm_train_normalized_into(x.view(), epsilon, out.view_mut());
                assert_identical(&format!("{context} x̂"), &out, &flat_hat);
                norm_grad::batch_norm_train_grad_into(
                    x.view(),
                    scale,
                    grad.view(),
                    epsilon,
                    out.view_mut(),
                );
                assert_identical(&format!("{context} x grad"), &out, &flat_dx);
            }
        }
    }
}

// ---------------------------------------------------------------- flat forwards vs the forward fixtures

#[test]
fn flat_forward_kernels_match_the_forward_fixtures() {
    for case in cases("conv", "conv2d") {
        let (input, filter, out) = (case.f32s("input"), case.f32s("filter"), case.f32s("out"));
        let dims = conv_dims(input.shape(), filter.shape(), &case);
        let mut actual = vec![f32::NAN; dims.output_len()];
        flat::conv2d(data(&input), data(&filter), dims, &mut actual);
        assert_close(
            &format!("{} (flat)", case.label()),
            shaped(actual, out.shape()).view(),
            out.view(),
            ACCUMULATED,
        );
    }
    for op in ["max_pool2d", "avg_pool2d"] {
        for case in cases("conv", op) {
            let (input, out) = (case.f32s("input"), case.f32s("out"));
            let dims = pool_dims(input.shape(), &case);
            let mut actual = vec![f32::NAN; dims.output_len()];
            if op == "max_pool2d" {
                flat::max_pool2d(data(&input), dims, &mut actual);
            } else {
                flat::avg_pool2d(data(&input), dims, &mut actual);
            }
            let tolerance = if op == "max_pool2d" {
                EXACT
            } else {
                ELEMENTWISE
            };
            assert_close(
                &format!("{} (flat)", case.label()),
                shaped(actual, out.shape()).view(),
                out.view(),
                tolerance,
            );
        }
    }
    for case in cases("norm", "batch_norm") {
        let x = case.f32s("x");
        let [mean, variance, scale, offset] =
            ["mean", "variance", "scale", "offset"].map(|key| case.f32s(key));
        let epsilon = case.scalar("epsilon");
        let mut actual = vec![f32::NAN; x.len()];
        flat::batch_norm(
            data(&x),
            data(&mean),
            data(&variance),
            data(&scale),
            data(&offset),
            rows_features(x.shape()),
            epsilon,
            &mut actual,
        );
        let actual = shaped(actual, x.shape());
        let context = format!("{} (flat)", case.label());
        assert_close(
            &context,
            actual.view(),
            case.f32s("out").view(),
            ELEMENTWISE,
        );
        let std = nn::batch_norm(
            x.view(),
            fixed::<Ix1>(&mean),
            fixed::<Ix1>(&variance),
            fixed::<Ix1>(&scale),
            fixed::<Ix1>(&offset),
            epsilon,
        );
        assert_identical(&format!("{context} vs ndarray"), &actual, &std);
    }
    for case in cases("norm", "layer_norm") {
        let (x, gamma, beta) = (case.f32s("x"), case.f32s("gamma"), case.f32s("beta"));
        let epsilon = case.scalar("epsilon");
        let mut actual = vec![f32::NAN; x.len()];
        flat::layer_norm(
            data(&x),
            data(&gamma),
            data(&beta),
            rows_features(x.shape()),
            epsilon,
            &mut actual,
        );
        let actual = shaped(actual, x.shape());
        let context = format!("{} (flat)", case.label());
        assert_close(
            &context,
            actual.view(),
            case.f32s("out").view(),
            ELEMENTWISE,
        );
        let std = nn::layer_norm(x.view(), fixed::<Ix1>(&gamma), fixed::<Ix1>(&beta), epsilon);
        assert_identical(&format!("{context} vs ndarray"), &actual, &std);
    }
}

// ---------------------------------------------------------------- by hand

#[test]
fn max_pool_ties_by_hand() {
    // 4x4 image, one channel, 3x3 window, stride 1, SAME (padding 1 each
    // side): 16 overlapping windows.
    //     1 9 9 0
    //     9 2 9 9
    //     0 9 3 3
    //     3 3 3 1
    // Each window's first 9 in row-major window order, by output position
    // (y, x): (0,0) window rows 0-1, cols 0-1 -> (0,1); (0,1) rows 0-1,
    // cols 0-2 -> (0,1); (0,2) cols 1-3 -> (0,1); (0,3) cols 2-3 -> (0,2);
    // (1,0) rows 0-2, cols 0-1 -> (0,1); (1,1) -> (0,1); (1,2) -> (0,1);
    // (1,3) cols 2-3 -> (0,2); (2,0) rows 1-3, cols 0-1 -> (1,0);
    // (2,1) cols 0-2 -> (1,0); (2,2) cols 1-3 -> (1,2); (2,3) cols 2-3 ->
    // (1,2); (3,0) rows 2-3, cols 0-1 -> (2,1); (3,1) -> (2,1); (3,2) cols
    // 1-3 -> (2,1); (3,3) rows 2-3, cols 2-3: 3, 3, 3, 1 -> (2,2).
    // With grad[y, x] = 2^(4y + x), input (0,1) collects outputs 0, 1, 2,
    // 4, 5, 6: 1 + 2 + 4 + 16 + 32 + 64 = 119; (0,2) outputs 3 and 7: 136;
    // (1,0) outputs 8, 9: 768; (1,2) outputs 10, 11: 3072; (2,1) outputs
    // 12, 13, 14: 28672; (2,2) output 15: 32768.
    let image = [
        1.0_f32, 9.0, 9.0, 0.0, 9.0, 2.0, 9.0, 9.0, 0.0, 9.0, 3.0, 3.0, 3.0, 3.0, 3.0, 1.0,
    ];
    let grad: Vec<f32> = (0..16).map(|k| (1_u32 << k) as f32).collect();
    let mut expected = [0.0_f32; 16];
    for (position, value) in [
        (1, 119.0),
        (2, 136.0),
        (4, 768.0),
        (6, 3072.0),
        (9, 28672.0),
        (10, 32768.0),
    ] {
        expected[position] = value;
    }
    let dims = Pool2dDims {
        n: 1,
        h: 4,
        w: 4,
        c: 1,
        window: (3, 3),
        strides: (1, 1),
        padding: Padding::Same,
    };
    let mut flat_dx = [f32::NAN; 16];
    flat::max_pool2d_grad(&image, &grad, dims, &mut flat_dx);
    assert_eq!(flat_dx, expected);
    let input = Array4::from_shape_vec((1, 4, 4, 1), image.to_vec()).unwrap();
    let grad = Array4::from_shape_vec((1, 4, 4, 1), grad).unwrap();
    let mut dx = Array4::zeros((1, 4, 4, 1));
    conv_grad::max_pool2d_grad_into(
        input.view(),
        grad.view(),
        (3, 3),
        (1, 1),
        Padding::Same,
        dx.view_mut(),
    );
    assert_eq!(dx.into_raw_vec_and_offset().0, expected.to_vec());
    // The forward agrees: every window's maximum is what was routed to.
    let pooled = conv::max_pool2d(input.view(), (3, 3), (1, 1), Padding::Same);
    assert_eq!(
        pooled.into_raw_vec_and_offset().0,
        [9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 3.0]
    );
}

#[test]
fn avg_pool_divisor_counts_only_positions_inside_by_hand() {
    // 3x3 image, 2x2 window, stride 2, SAME: output 2x2, padding (0, 1).
    // Windows: {(0,0),(0,1),(1,0),(1,1)} /4, {(0,2),(1,2)} /2,
    // {(2,0),(2,1)} /2, {(2,2)} /1. grad = [4, 6, 10, 3].
    let dims = Pool2dDims {
        n: 1,
        h: 3,
        w: 3,
        c: 1,
        window: (2, 2),
        strides: (2, 2),
        padding: Padding::Same,
    };
    let grad = [4.0_f32, 6.0, 10.0, 3.0];
    let expected = [1.0_f32, 1.0, 3.0, 1.0, 1.0, 3.0, 5.0, 5.0, 3.0];
    let mut dx = [f32::NAN; 9];
    flat::avg_pool2d_grad(&grad, dims, &mut dx);
    assert_eq!(dx, expected);
    let mut out = Array4::zeros((1, 3, 3, 1));
    conv_grad::avg_pool2d_grad_into(
        Array4::from_shape_vec((1, 2, 2, 1), grad.to_vec())
            .unwrap()
            .view(),
        (2, 2),
        (2, 2),
        Padding::Same,
        out.view_mut(),
    );
    assert_eq!(out.into_raw_vec_and_offset().0, expected.to_vec());
}

// ---------------------------------------------------------------- finite differences

/// Deterministic values in [-2, 2), distinct multiples of 1/64 shuffled by
/// a multiplicative step (coprime with `len`), so no two are close: no
/// max-pool window has a tie within the finite-difference step.
fn distinct(len: usize, seed: usize) -> Vec<f32> {
    let step = [7919, 104_729, 7927, 7933][seed % 4];
    assert!(len < 256 && step % 2 == 1 && step % 3 != 0);
    (0..len)
        .map(|i| ((i * step + seed * 13) % 256) as f32 / 64.0 - 2.0)
        .collect()
}

/// `∂(Σ weights·f(x))/∂x` by central differences in f64, step 1e-5.
fn numerical_gradient(x: &[f32], weights: &[f32], f: impl Fn(&[f64]) -> Vec<f64>) -> Vec<f32> {
    const H: f64 = 1e-5;
    let loss = |x: &[f64]| -> f64 {
        f(x).iter()
            .zip(weights)
            .map(|(y, &w)| y * f64::from(w))
            .sum()
    };
    let mut point: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    (0..x.len())
        .map(|k| {
            let centre = point[k];
            point[k] = centre + H;
            let up = loss(&point);
            point[k] = centre - H;
            let down = loss(&point);
            point[k] = centre;
            #[allow(clippy::cast_possible_truncation)]
            let slope = ((up - down) / (2.0 * H)) as f32;
            slope
        })
        .collect()
}

fn assert_close_slices(context: &str, actual: &[f32], expected: &[f32], tolerance: Tolerance) {
    assert_eq!(actual.len(), expected.len(), "{context}: length");
    let view = |v: &[f32]| shaped(v.to_vec(), &[v.len()]);
    assert_close(
        context,
        view(actual).view(),
        view(expected).view(),
        tolerance,
    );
}

/// The convolution written out in f64, TensorFlow's definition.
fn conv2d_f64(input: &[f64], filter: &[f64], d: Conv2dDims) -> Vec<f64> {
    let (top, _) = conv_padding(d.h, d.kh, d.strides.0, d.dilations.0, d.padding);
    let (left, _) = conv_padding(d.w, d.kw, d.strides.1, d.dilations.1, d.padding);
    let (oh, ow) = (d.out_h(), d.out_w());
    let mut out = vec![0.0; d.output_len()];
    for b in 0..d.n {
        for y in 0..oh {
            for x in 0..ow {
                for o in 0..d.o {
                    let mut sum = 0.0;
                    for i in 0..d.kh {
                        for j in 0..d.kw {
                            let sy = (y * d.strides.0 + i * d.dilations.0).checked_sub(top);
                            let sx = (x * d.strides.1 + j * d.dilations.1).checked_sub(left);
                            let (Some(sy), Some(sx)) = (sy, sx) else {
                                continue;
                            };
                            if sy >= d.h || sx >= d.w {
                                continue;
                            }
                            for c in 0..d.c {
                                sum += input[((b * d.h + sy) * d.w + sx) * d.c + c]
                                    * filter[((i * d.kw + j) * d.c + c) * d.o + o];
                            }
                        }
                    }
                    out[((b * oh + y) * ow + x) * d.o + o] = sum;
                }
            }
        }
    }
    out
}

/// A pool written out in f64: the maximum, or the mean over the positions
/// inside the input.
fn pool_f64(input: &[f64], d: Pool2dDims, max: bool) -> Vec<f64> {
    let (top, _) = conv_padding(d.h, d.window.0, d.strides.0, 1, d.padding);
    let (left, _) = conv_padding(d.w, d.window.1, d.strides.1, 1, d.padding);
    let (oh, ow) = (d.out_h(), d.out_w());
    let mut out = vec![0.0; d.output_len()];
    for b in 0..d.n {
        for y in 0..oh {
            for x in 0..ow {
                for c in 0..d.c {
                    let mut values = Vec::new();
                    for i in 0..d.window.0 {
                        for j in 0..d.window.1 {
                            let sy = (y * d.strides.0 + i).checked_sub(top);
                            let sx = (x * d.strides.1 + j).checked_sub(left);
                            if let (Some(sy), Some(sx)) = (sy, sx) {
                                if sy < d.h && sx < d.w {
                                    values.push(input[((b * d.h + sy) * d.w + sx) * d.c + c]);
                                }
                            }
                        }
                    }
                    out[((b * oh + y) * ow + x) * d.c + c] = if max {
                        values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                    } else {
                        values.iter().sum::<f64>() / values.len() as f64
                    };
                }
            }
        }
    }
    out
}

/// `(x − μ)/√(σ² + ε)·scale + offset` in f64, with the statistics of each
/// feature over the rows (`per_row` false: batch norm) or of each row over
/// the features (`per_row` true: layer norm).
fn norm_f64(
    x: &[f64],
    scale: &[f64],
    offset: &[f64],
    (rows, features): (usize, usize),
    epsilon: f64,
    per_row: bool,
) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    let (groups, members) = if per_row {
        (rows, features)
    } else {
        (features, rows)
    };
    let at = |g: usize, m: usize| {
        if per_row {
            g * features + m
        } else {
            m * features + g
        }
    };
    for g in 0..groups {
        let mu = (0..members).map(|m| x[at(g, m)]).sum::<f64>() / members as f64;
        let variance = (0..members)
            .map(|m| (x[at(g, m)] - mu).powi(2))
            .sum::<f64>()
            / members as f64;
        for m in 0..members {
            let k = at(g, m);
            let feature = k % features;
            out[k] = (x[k] - mu) / (variance + epsilon).sqrt() * scale[feature] + offset[feature];
        }
    }
    out
}

fn widen(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| f64::from(v)).collect()
}

#[test]
#[allow(clippy::too_many_lines)] // Both gradients, flat and ndarray.
fn conv2d_gradients_match_finite_differences() {
    let base = Conv2dDims {
        n: 2,
        h: 5,
        w: 4,
        c: 2,
        kh: 3,
        kw: 2,
        o: 3,
        strides: (2, 1),
        dilations: (1, 2),
        padding: Padding::Same,
    };
    let other = Conv2dDims {
        n: 1,
        h: 6,
        w: 5,
        c: 1,
        kh: 2,
        kw: 3,
        o: 2,
        strides: (1, 2),
        dilations: (2, 1),
        padding: Padding::Valid,
    };
    for dims in [base, other] {
        let input = distinct(dims.input_len(), 1);
        let filter = distinct(dims.filter_len(), 2);
        let grad = distinct(dims.output_len(), 3);
        // The f64 forward is the f32 kernels' function.
        let mut forward = vec![0.0; dims.output_len()];
        flat::conv2d(&input, &filter, dims, &mut forward);
        #[allow(clippy::cast_possible_truncation)]
        let reference: Vec<f32> = conv2d_f64(&widen(&input), &widen(&filter), dims)
            .into_iter()
            .map(|v| v as f32)
            .collect();
        assert_close_slices(
            &format!("{dims:?} forward"),
            &forward,
            &reference,
            ACCUMULATED,
        );

        let wide_filter = widen(&filter);
        let expected_input =
            numerical_gradient(&input, &grad, |x| conv2d_f64(x, &wide_filter, dims));
        let wide_input = widen(&input);
        let expected_filter =
            numerical_gradient(&filter, &grad, |f| conv2d_f64(&wide_input, f, dims));

        let mut dx = vec![0.0; dims.input_len()];
        flat::conv2d_input_grad(&grad, &filter, dims, &mut dx);
        assert_close_slices(
            &format!("{dims:?} flat dx"),
            &dx,
            &expected_input,
            FINITE_DIFFERENCE,
        );
        let mut df = vec![0.0; dims.filter_len()];
        flat::conv2d_filter_grad(&input, &grad, dims, &mut df);
        assert_close_slices(
            &format!("{dims:?} flat df"),
            &df,
            &expected_filter,
            FINITE_DIFFERENCE,
        );

        let shape4 = |len: usize, d: (usize, usize, usize, usize), v: &[f32]| {
            assert_eq!(len, v.len());
            Array4::from_shape_vec(d, v.to_vec()).unwrap()
        };
        let (oh, ow) = (dims.out_h(), dims.out_w());
        let input4 = shape4(dims.input_len(), (dims.n, dims.h, dims.w, dims.c), &input);
        let filter4 = shape4(
            dims.filter_len(),
            (dims.kh, dims.kw, dims.c, dims.o),
            &filter,
        );
        let grad4 = shape4(dims.output_len(), (dims.n, oh, ow, dims.o), &grad);
        let mut dx4 = Array4::zeros(input4.dim());
        conv_grad::conv2d_input_grad_into(
            grad4.view(),
            filter4.view(),
            dims.strides,
            dims.padding,
            dims.dilations,
            dx4.view_mut(),
        );
        assert_close_slices(
            &format!("{dims:?} dx"),
            dx4.as_slice().unwrap(),
            &expected_input,
            FINITE_DIFFERENCE,
        );
        let mut df4 = Array4::zeros(filter4.dim());
        conv_grad::conv2d_filter_grad_into(
            input4.view(),
            grad4.view(),
            dims.strides,
            dims.padding,
            dims.dilations,
            df4.view_mut(),
        );
        assert_close_slices(
            &format!("{dims:?} df"),
            df4.as_slice().unwrap(),
            &expected_filter,
            FINITE_DIFFERENCE,
        );
    }
}

#[test]
fn pool_gradients_match_finite_differences() {
    let first = Pool2dDims {
        n: 2,
        h: 5,
        w: 6,
        c: 2,
        window: (3, 2),
        strides: (2, 1),
        padding: Padding::Same,
    };
    let second = Pool2dDims {
        n: 1,
        h: 4,
        w: 5,
        c: 3,
        window: (2, 2),
        strides: (1, 2),
        padding: Padding::Valid,
    };
    for dims in [first, second] {
        let input = distinct(dims.input_len(), 0);
        let grad = distinct(dims.output_len(), 1);
        let shape = (dims.n, dims.h, dims.w, dims.c);
        let grad4 =
            Array4::from_shape_vec((dims.n, dims.out_h(), dims.out_w(), dims.c), grad.clone())
                .unwrap();
        let input4 = Array4::from_shape_vec(shape, input.clone()).unwrap();
        for max in [true, false] {
            let expected = numerical_gradient(&input, &grad, |x| pool_f64(x, dims, max));
            let mut dx = vec![0.0; dims.input_len()];
            let mut dx4 = Array4::zeros(shape);
            if max {
                flat::max_pool2d_grad(&input, &grad, dims, &mut dx);
                conv_grad::max_pool2d_grad_into(
                    input4.view(),
                    grad4.view(),
                    dims.window,
                    dims.strides,
                    dims.padding,
                    dx4.view_mut(),
                );
            } else {
                flat::avg_pool2d_grad(&grad, dims, &mut dx);
                conv_grad::avg_pool2d_grad_into(
                    grad4.view(),
                    dims.window,
                    dims.strides,
                    dims.padding,
                    dx4.view_mut(),
                );
            }
            let context = format!("{dims:?} max={max}");
            assert_close_slices(&context, &dx, &expected, FINITE_DIFFERENCE);
            assert_close_slices(
                &context,
                dx4.as_slice().unwrap(),
                &expected,
                FINITE_DIFFERENCE,
            );
        }
    }
}

#[test]
fn norm_gradients_match_finite_differences() {
    let (rows, features) = (4, 5);
    let x = distinct(rows * features, 2);
    let gamma = distinct(features, 3);
    let beta = distinct(features, 1);
    let grad = distinct(rows * features, 0);
    let epsilon = 1e-3_f32;
    let eps = f64::from(epsilon);
    let (wide_gamma, wide_beta) = (widen(&gamma), widen(&beta));
    for per_row in [true, false] {
        let expected_input = numerical_gradient(&x, &grad, |x| {
            norm_f64(x, &wide_gamma, &wide_beta, (rows, features), eps, per_row)
        });
        let wide_x = widen(&x);
        let expected_dgamma = numerical_gradient(&gamma, &grad, |g| {
            norm_f64(&wide_x, g, &wide_beta, (rows, features), eps, per_row)
        });
        let mut dx = vec![0.0; x.len()];
        let mut hat = vec![0.0; x.len()];
        let x2 = ndarray::Array2::from_shape_vec((rows, features), x.clone()).unwrap();
        let grad2 = ndarray::Array2::from_shape_vec((rows, features), grad.clone()).unwrap();
        let mut dx2 = ndarray::Array2::zeros((rows, features));
        if per_row {
            flat::layer_norm_grad(&x, &gamma, &grad, (rows, features), epsilon, &mut dx);
            flat::layer_norm_normalized(&x, (rows, features), epsilon, &mut hat);
            norm_grad::layer_norm_grad_into(
                x2.view(),
                Array1::from(gamma.clone()).view(),
                grad2.view(),
                epsilon,
                dx2.view_mut(),
            );
        } else {
            flat::batch_norm_train_grad(&x, &gamma, &grad, (rows, features), epsilon, &mut dx);
            flat::batch_norm_train_normalized(&x, (rows, features), epsilon, &mut hat);
            norm_grad::batch_norm_train_grad_into(
                x2.view(),
                Array1::from(gamma.clone()).view(),
                grad2.view(),
                epsilon,
                dx2.view_mut(),
            );
        }
        let context = if per_row { "layer norm" } else { "batch norm" };
        assert_close_slices(context, &dx, &expected_input, FINITE_DIFFERENCE);
        assert_close_slices(
            context,
            dx2.as_slice().unwrap(),
            &expected_input,
            FINITE_DIFFERENCE,
        );
        // d_gamma (d_scale) = Σ_rows grad·x̂.
        let x_hat = shaped(hat, &[rows, features]);
        let grad_d = shaped(grad.clone(), &[rows, features]);
        let dgamma = feature_sums(&grad_d, Some(&x_hat));
        assert_close_slices(
            &format!("{context} d_gamma"),
            dgamma.as_slice().unwrap(),
            &expected_dgamma,
            FINITE_DIFFERENCE,
        );
    }
}

#[test]
fn reversed_views_feed_the_convolution_gradients() {
    // `layouts` in the fixture tests covers column-major operands; here
    // views with a negative stride (a reversed axis) against their copies.
    let input = Array4::from_shape_fn((2, 6, 5, 3), |(b, y, x, c)| {
        ((b * 7 + y * 5 + x * 3 + c) % 11) as f32 * 0.25 - 1.0
    });
    let filter = Array4::from_shape_fn((3, 3, 3, 4), |(i, j, c, o)| {
        ((i * 5 + j * 3 + c * 2 + o) % 7) as f32 * 0.5 - 1.5
    });
    let reversed = input.slice(ndarray::s![.., ..;-1, .., ..]);
    let owned = reversed.to_owned();
    let grad = Array4::from_shape_fn((2, 6, 5, 4), |(b, y, x, o)| {
        ((b + y * 3 + x * 2 + o) % 5) as f32 - 2.0
    });
    let mut from_view = Array4::zeros((3, 3, 3, 4));
    let mut from_owned = Array4::zeros((3, 3, 3, 4));
    for (source, out) in [(reversed, &mut from_view), (owned.view(), &mut from_owned)] {
        conv_grad::conv2d_filter_grad_into(
            source,
            grad.view(),
            (1, 1),
            Padding::Same,
            (1, 1),
            out.view_mut(),
        );
    }
    // Small integers times quarters: every sum is exact in f32.
    assert_eq!(from_view, from_owned);
    let mut dx_view = Array4::zeros((2, 6, 5, 3));
    let mut dx_owned = Array4::zeros((2, 6, 5, 3));
    let grad_sliced = grad.slice(ndarray::s![.., .., .., ..;-1]);
    let grad_owned = grad_sliced.to_owned();
    conv_grad::conv2d_input_grad_into(
        grad_sliced,
        filter.view(),
        (1, 1),
        Padding::Same,
        (1, 1),
        dx_view.view_mut(),
    );
    conv_grad::conv2d_input_grad_into(
        grad_owned.view(),
        filter.view(),
        (1, 1),
        Padding::Same,
        (1, 1),
        dx_owned.view_mut(),
    );
    assert_eq!(dx_view, dx_owned);
}

#[test]
fn input_grad_of_wide_filters_matches_the_flat_kernel() {
    // The ndarray input gradient transposes each tap into 4096 floats of
    // stack scratch: 70 input × 64 output channels take two blocks of input
    // channels (64 and 6), and 4097 output channels do not fit at all (the
    // transpose is read in place). The flat kernel, checked against JAX
    // above, is the reference.
    let value = |k: usize| ((k * 37 + 11) % 23) as f32 * 0.125 - 1.375;
    for (c, o, h, w, k) in [(70, 64, 4, 5, 3), (2, 4097, 2, 2, 1)] {
        let dims = Conv2dDims {
            n: 2,
            h,
            w,
            c,
            kh: k,
            kw: k,
            o,
            strides: (1, 1),
            dilations: (1, 1),
            padding: Padding::Same,
        };
        let filter: Vec<f32> = (0..dims.filter_len()).map(value).collect();
        let grad: Vec<f32> = (0..dims.output_len()).map(|i| value(i + 5)).collect();
        let mut expected = vec![0.0; dims.input_len()];
        flat::conv2d_input_grad(&grad, &filter, dims, &mut expected);
        let filter4 = Array4::from_shape_vec((k, k, c, o), filter).unwrap();
        let grad4 = Array4::from_shape_vec((2, h, w, o), grad).unwrap();
        let mut dx = Array4::zeros((2, h, w, c));
        conv_grad::conv2d_input_grad_into(
            grad4.view(),
            filter4.view(),
            (1, 1),
            Padding::Same,
            (1, 1),
            dx.view_mut(),
        );
        assert_close_slices(
            &format!("{c} -> {o} channels"),
            dx.as_slice().unwrap(),
            &expected,
            ACCUMULATED,
        );
    }
}

#[test]
fn pool_gradients_of_many_channels_agree_across_paths() {
    // 19 channels: two groups of eight and three left over in the flat
    // max-pool gradient (standard layout), against the ndarray kernels'
    // own loops (column-major operands), which scan one channel at a time.
    // Values in sixteenths in [-2, 2): many ties.
    let (n, h, w, c) = (2, 7, 6, 19);
    let value = |k: usize| ((k * 97 + 31) % 64) as f32 / 16.0 - 2.0;
    let input = Array4::from_shape_fn((n, h, w, c), |(b, y, x, ch)| {
        value(((b * h + y) * w + x) * c + ch)
    });
    let column_major = input.t().as_standard_layout().into_owned();
    for (window, strides, pad) in [
        ((3, 3), (1, 1), Padding::Same),
        ((2, 3), (2, 2), Padding::Valid),
    ] {
        let dims = Pool2dDims {
            n,
            h,
            w,
            c,
            window,
            strides,
            padding: pad,
        };
        let grad = Array4::from_shape_fn((n, dims.out_h(), dims.out_w(), c), |(b, y, x, ch)| {
            value(b + y * 3 + x * 5 + ch * 7 + 1)
        });
        let grad_column = grad.t().as_standard_layout().into_owned();
        let mut flat_dx = Array4::zeros((n, h, w, c));
        let mut strided_dx = Array4::zeros((n, h, w, c).f());
        conv_grad::max_pool2d_grad_into(
            input.view(),
            grad.view(),
            window,
            strides,
            pad,
            flat_dx.view_mut(),
        );
        conv_grad::max_pool2d_grad_into(
            column_major.t(),
            grad_column.t(),
            window,
            strides,
            pad,
            strided_dx.view_mut(),
        );
        let context = format!("max {window:?} {strides:?} {pad:?}");
        assert_identical(&context, &flat_dx.into_dyn(), &strided_dx.into_dyn());
        let mut flat_dx = Array4::zeros((n, h, w, c));
        let mut strided_dx = Array4::zeros((n, h, w, c).f());
        conv_grad::avg_pool2d_grad_into(grad.view(), window, strides, pad, flat_dx.view_mut());
        conv_grad::avg_pool2d_grad_into(
            grad_column.t(),
            window,
            strides,
            pad,
            strided_dx.view_mut(),
        );
        let context = format!("avg {window:?} {strides:?} {pad:?}");
        assert_identical(&context, &flat_dx.into_dyn(), &strided_dx.into_dyn());
    }
}
