//! Every `_into` (and `_inplace`) kernel against its allocating form, with
//! the input in standard layout, column-major, and strided (every other
//! element of a wider array), and the output in the same three layouts.
//! The results must be identical (NaN matching NaN).

use graph_runtime::kernels::{
    batched, binary, conv, elementwise, linalg, loss, movement, nn, reduce, softmax, unary,
};
use ndarray::{
    aview0, Array, Array1, Array2, Array3, Array4, ArrayView, ArrayViewMut, Axis, Dimension, Ix0,
    Ix1, Ix2, Ix3, ShapeBuilder, Slice,
};

/// Values with a mix of signs, magnitudes and one NaN-free pattern.
fn values<Sh: ShapeBuilder>(shape: Sh, seed: usize) -> Array<f32, Sh::Dim> {
    let mut i = seed;
    Array::from_shape_simple_fn(shape, || {
        i += 1;
        ((i * 37 + 11) % 23) as f32 * 0.25 - 2.5
    })
}

/// `x` as a column-major array (storage transposed, same logical values).
fn column_major<D: Dimension>(x: &Array<f32, D>) -> Array<f32, D> {
    x.t().as_standard_layout().into_owned().reversed_axes()
}

/// `x` with a sentinel between elements along the last axis, so that every
/// other element of it is `x`.
fn wide<D: Dimension>(x: &Array<f32, D>) -> Array<f32, D> {
    let last = Axis(x.ndim() - 1);
    let mut dim = x.raw_dim();
    dim[x.ndim() - 1] *= 2;
    let mut wide = Array::from_elem(dim, 1e30_f32);
    wide.slice_axis_mut(last, Slice::new(0, None, 2)).assign(x);
    wide
}

fn every_other<D: Dimension>(x: &Array<f32, D>) -> ArrayView<'_, f32, D> {
    x.slice_axis(Axis(x.ndim() - 1), Slice::new(0, None, 2))
}

/// Runs `check(layout name, view)` on the standard, column-major and
/// strided views of `x` (the last only for rank ≥ 1).
fn for_layouts<D: Dimension>(
    x: &Array<f32, D>,
    mut check: impl FnMut(&str, ArrayView<'_, f32, D>),
) {
    check("standard", x.view());
    let f = column_major(x);
    check("column-major", f.view());
    if x.ndim() > 0 {
        let w = wide(x);
        check("strided", every_other(&w));
    }
}

#[track_caller]
#[allow(clippy::needless_pass_by_value)] // Views by value, as the kernels take them.
fn assert_same<T: PartialEq + Copy + std::fmt::Debug + IsNan, D: Dimension>(
    context: &str,
    actual: ArrayView<'_, T, D>,
    expected: ArrayView<'_, T, D>,
) {
    assert_eq!(actual.shape(), expected.shape(), "{context}: shape");
    for ((index, a), e) in actual.indexed_iter().zip(expected.iter()) {
        assert!(
            a == e || (a.is_nan() && e.is_nan()),
            "{context}: at {index:?} got {a:?}, expected {e:?}"
        );
    }
}

trait IsNan {
    fn is_nan(&self) -> bool;
}
impl IsNan for f32 {
    fn is_nan(&self) -> bool {
        f32::is_nan(*self)
    }
}
impl IsNan for bool {
    fn is_nan(&self) -> bool {
        false
    }
}
impl IsNan for usize {
    fn is_nan(&self) -> bool {
        false
    }
}

/// Runs `into` writing into outputs of `expected`'s shape in the three
/// layouts and compares each with `expected`.
#[track_caller]
fn check_outs<T, O>(
    context: &str,
    expected: &Array<T, O>,
    mut into: impl FnMut(ArrayViewMut<'_, T, O>),
) where
    T: PartialEq + Copy + std::fmt::Debug + IsNan + Default,
    O: Dimension,
{
    let mut standard = Array::from_elem(expected.raw_dim(), T::default());
    into(standard.view_mut());
    assert_same(
        &format!("{context}, standard out"),
        standard.view(),
        expected.view(),
    );

    let mut reversed = expected.raw_dim();
    reversed.slice_mut().reverse();
    let mut storage = Array::from_elem(reversed, T::default());
    into(storage.view_mut().reversed_axes());
    assert_same(
        &format!("{context}, column-major out"),
        storage.view().reversed_axes(),
        expected.view(),
    );

    if expected.ndim() > 0 {
        let last = expected.ndim() - 1;
        let mut dim = expected.raw_dim();
        dim[last] *= 2;
        let mut wide = Array::from_elem(dim, T::default());
        into(wide.slice_axis_mut(Axis(last), Slice::new(0, None, 2)));
        assert_same(
            &format!("{context}, strided out"),
            wide.slice_axis(Axis(last), Slice::new(0, None, 2)),
            expected.view(),
        );
    }
}

#[test]
fn unary_into_and_inplace() {
    type Kernel = (
        &'static str,
        fn(ArrayView<'_, f32, Ix3>) -> Array<f32, Ix3>,
        fn(ArrayView<'_, f32, Ix3>, ArrayViewMut<'_, f32, Ix3>),
        fn(ArrayViewMut<'_, f32, Ix3>),
    );
    let kernels: [Kernel; 18] = [
        ("abs", unary::abs, unary::abs_into, unary::abs_inplace),
        ("exp", unary::exp, unary::exp_into, unary::exp_inplace),
        ("log", unary::log, unary::log_into, unary::log_inplace),
        ("sqrt", unary::sqrt, unary::sqrt_into, unary::sqrt_inplace),
        (
            "square",
            unary::square,
            unary::square_into,
            unary::square_inplace,
        ),
        ("relu", unary::relu, unary::relu_into, unary::relu_inplace),
        (
            "sigmoid",
            unary::sigmoid,
            unary::sigmoid_into,
            unary::sigmoid_inplace,
        ),
        ("tanh", unary::tanh, unary::tanh_into, unary::tanh_inplace),
        (
            "gelu_tanh",
            unary::gelu_tanh,
            unary::gelu_tanh_into,
            unary::gelu_tanh_inplace,
        ),
        (
            "gelu_exact",
            unary::gelu_exact,
            unary::gelu_exact_into,
            unary::gelu_exact_inplace,
        ),
        ("erf", unary::erf, unary::erf_into, unary::erf_inplace),
        (
            "softplus",
            unary::softplus,
            unary::softplus_into,
            unary::softplus_inplace,
        ),
        (
            "pow",
            |x| unary::pow(x, 3.0),
            |x, out| unary::pow_into(x, 3.0, out),
            |x| unary::pow_inplace(x, 3.0),
        ),
        (
            "leaky_relu",
            |x| unary::leaky_relu(x, 0.1),
            |x, out| unary::leaky_relu_into(x, 0.1, out),
            |x| unary::leaky_relu_inplace(x, 0.1),
        ),
        (
            "clip",
            |x| unary::clip(x, -1.0, 1.5),
            |x, out| unary::clip_into(x, -1.0, 1.5, out),
            |x| unary::clip_inplace(x, -1.0, 1.5),
        ),
        ("silu", unary::silu, unary::silu_into, unary::silu_inplace),
        (
            "elu",
            |x| unary::elu(x, 0.5),
            |x, out| unary::elu_into(x, 0.5, out),
            |x| unary::elu_inplace(x, 0.5),
        ),
        (
            "hard_sigmoid",
            |x| unary::hard_sigmoid(x, 0.2, 0.5),
            |x, out| unary::hard_sigmoid_into(x, 0.2, 0.5, out),
            |x| unary::hard_sigmoid_inplace(x, 0.2, 0.5),
        ),
    ];
    let x = values((2, 3, 5), 0);
    for (name, alloc, into, inplace) in kernels {
        for_layouts(&x, |layout, xv| {
            let expected = alloc(xv);
            check_outs(&format!("{name} ({layout} x)"), &expected, |out| {
                into(xv, out);
            });
            let mut y = xv.to_owned();
            inplace(y.view_mut());
            assert_same(&format!("{name}_inplace"), y.view(), expected.view());
        });
        // In place through a strided view of a wider array.
        let mut w = wide(&x);
        inplace(w.slice_axis_mut(Axis(2), Slice::new(0, None, 2)));
        assert_same(
            &format!("{name}_inplace strided"),
            every_other(&w),
            alloc(x.view()).view(),
        );
        assert!(w
            .slice_axis(Axis(2), Slice::new(1, None, 2))
            .iter()
            .all(|&v| v == 1e30));
    }
}

#[test]
fn arithmetic_into_and_inplace_with_broadcasting() {
    type Alloc = fn(ArrayView<'_, f32, Ix2>, ArrayView<'_, f32, Ix1>) -> Array<f32, Ix2>;
    type Into = fn(ArrayView<'_, f32, Ix2>, ArrayView<'_, f32, Ix1>, ArrayViewMut<'_, f32, Ix2>);
    type InPlace = fn(ArrayViewMut<'_, f32, Ix2>, ArrayView<'_, f32, Ix1>);
    let kernels: [(&str, Alloc, Into, InPlace); 4] = [
        (
            "add",
            elementwise::add,
            elementwise::add_into,
            elementwise::add_inplace,
        ),
        (
            "sub",
            elementwise::sub,
            elementwise::sub_into,
            elementwise::sub_inplace,
        ),
        (
            "mul",
            elementwise::mul,
            elementwise::mul_into,
            elementwise::mul_inplace,
        ),
        (
            "div",
            elementwise::div,
            elementwise::div_into,
            elementwise::div_inplace,
        ),
    ];
    let x = values((4, 6), 1);
    let bias = values(Ix1(6), 2);
    for (name, alloc, into, inplace) in kernels {
        for_layouts(&x, |layout, xv| {
            for_layouts(&bias, |bias_layout, bv| {
                let expected = alloc(xv, bv);
                let context = format!("{name} ({layout} x, {bias_layout} bias)");
                check_outs(&context, &expected, |out| into(xv, bv, out));
                let mut y = xv.to_owned();
                inplace(y.view_mut(), bv);
                assert_same(&format!("{context} inplace"), y.view(), expected.view());
            });
        });
    }
    // Column against row, and a scalar, into a rank-2 output.
    let column = values((4, 1), 3);
    for_layouts(&column, |layout, cv| {
        let expected: Array2<f32> = elementwise::sub(cv, bias.view());
        check_outs(&format!("sub column ({layout})"), &expected, |out| {
            elementwise::sub_into(cv, bias.view(), out);
        });
    });
    let expected: Array2<f32> = elementwise::mul(x.view(), aview0(&2.5));
    check_outs("mul scalar", &expected, |out| {
        elementwise::mul_into(x.view(), aview0(&2.5), out);
    });
    for_layouts(&x, |layout, xv| {
        let expected = elementwise::neg(xv);
        check_outs(&format!("neg ({layout})"), &expected, |out| {
            elementwise::neg_into(xv, out);
        });
        let mut y = xv.to_owned();
        elementwise::neg_inplace(y.view_mut());
        assert_same("neg_inplace", y.view(), expected.view());
    });
}

#[test]
fn binary_into() {
    let mut a = values((3, 4), 4);
    a[[1, 2]] = f32::NAN;
    let b = values(Ix1(4), 5);
    for_layouts(&a, |layout, av| {
        let context = |op: &str| format!("{op} ({layout})");
        let e: Array2<f32> = binary::maximum(av, b.view());
        check_outs(&context("maximum"), &e, |out| {
            binary::maximum_into(av, b.view(), out);
        });
        let e: Array2<f32> = binary::minimum(av, b.view());
        check_outs(&context("minimum"), &e, |out| {
            binary::minimum_into(av, b.view(), out);
        });
        let e: Array2<bool> = binary::gt(av, b.view());
        check_outs(&context("gt"), &e, |out| binary::gt_into(av, b.view(), out));
        let e: Array2<bool> = binary::ge(av, b.view());
        check_outs(&context("ge"), &e, |out| binary::ge_into(av, b.view(), out));
        let e: Array2<bool> = binary::lt(av, b.view());
        check_outs(&context("lt"), &e, |out| binary::lt_into(av, b.view(), out));
        let e: Array2<bool> = binary::le(av, b.view());
        check_outs(&context("le"), &e, |out| binary::le_into(av, b.view(), out));
        let e: Array2<bool> = binary::eq(av, b.view());
        check_outs(&context("eq"), &e, |out| binary::eq_into(av, b.view(), out));
        let mask = Array2::from_shape_fn((3, 1), |(i, _)| i % 2 == 0);
        let e: Array2<f32> = binary::select(mask.view(), av, b.view());
        check_outs(&context("select"), &e, |out| {
            binary::select_into(mask.view(), av, b.view(), out);
        });
    });
}

#[test]
fn reductions_into() {
    let mut x = values((3, 4, 5), 6);
    for_layouts(&x.clone(), |layout, xv| {
        for keep in [false, true] {
            for axes in [&[2][..], &[0, 2], &[1, 0], &[]] {
                let context = |op: &str| format!("{op} {axes:?} keep={keep} ({layout})");
                macro_rules! check_reduce {
                    ($alloc:path, $into:path, $rank:ty) => {{
                        let e: Array<f32, $rank> = $alloc(xv, axes, keep);
                        check_outs(&context(stringify!($alloc)), &e, |out| {
                            $into(xv, axes, keep, out);
                        });
                    }};
                }
                match (axes.len(), keep) {
                    (_, true) | (0, false) => {
                        check_reduce!(reduce::sum, reduce::sum_into, Ix3);
                        check_reduce!(reduce::mean, reduce::mean_into, Ix3);
                        check_reduce!(reduce::max, reduce::max_into, Ix3);
                        check_reduce!(reduce::min, reduce::min_into, Ix3);
                    }
                    (1, false) => {
                        check_reduce!(reduce::sum, reduce::sum_into, Ix2);
                        check_reduce!(reduce::mean, reduce::mean_into, Ix2);
                        check_reduce!(reduce::max, reduce::max_into, Ix2);
                        check_reduce!(reduce::min, reduce::min_into, Ix2);
                    }
                    _ => {
                        check_reduce!(reduce::sum, reduce::sum_into, Ix1);
                        check_reduce!(reduce::mean, reduce::mean_into, Ix1);
                        check_reduce!(reduce::max, reduce::max_into, Ix1);
                        check_reduce!(reduce::min, reduce::min_into, Ix1);
                    }
                }
            }
        }
        for axis in 0..3 {
            let e: Array2<usize> = reduce::argmax(xv, axis);
            check_outs(&format!("argmax {axis} ({layout})"), &e, |out| {
                reduce::argmax_into(xv, axis, out);
            });
            let e: Array2<usize> = reduce::argmin(xv, axis);
            check_outs(&format!("argmin {axis} ({layout})"), &e, |out| {
                reduce::argmin_into(xv, axis, out);
            });
        }
    });
    // Everything, and NaN.
    x[[2, 3, 1]] = f32::NAN;
    let e: Array<f32, Ix0> = reduce::max(x.view(), &[0, 1, 2], false);
    let mut out = Array::from_elem((), 0.0);
    reduce::max_into(x.view(), &[2, 1, 0], false, out.view_mut());
    assert!(e.into_scalar().is_nan() && out.into_scalar().is_nan());
    // Global average pooling over NHWC.
    let images = values((2, 3, 3, 8), 7);
    for_layouts(&images, |layout, iv| {
        let e: Array2<f32> = reduce::mean(iv, &[1, 2], false);
        check_outs(&format!("global average pool ({layout})"), &e, |out| {
            reduce::mean_into(iv, &[1, 2], false, out);
        });
    });
}

#[test]
fn softmax_family_into_and_inplace() {
    let x = values((3, 5), 8).mapv(|v| v * 30.0);
    for_layouts(&x, |layout, xv| {
        for axis in 0..2 {
            let context = |op: &str| format!("{op} axis {axis} ({layout})");
            let e = softmax::softmax(xv, axis);
            check_outs(&context("softmax"), &e, |out| {
                softmax::softmax_into(xv, axis, out);
            });
            let mut y = xv.to_owned();
            softmax::softmax_inplace(y.view_mut(), axis);
            assert_same(&context("softmax_inplace"), y.view(), e.view());

            let e = softmax::log_softmax(xv, axis);
            check_outs(&context("log_softmax"), &e, |out| {
                softmax::log_softmax_into(xv, axis, out);
            });
            let mut y = xv.to_owned();
            softmax::log_softmax_inplace(y.view_mut(), axis);
            assert_same(&context("log_softmax_inplace"), y.view(), e.view());

            let e: Array1<f32> = softmax::logsumexp(xv, axis, false);
            check_outs(&context("logsumexp"), &e, |out| {
                softmax::logsumexp_into(xv, axis, false, out);
            });
            let e: Array2<f32> = softmax::logsumexp(xv, axis, true);
            check_outs(&context("logsumexp keep"), &e, |out| {
                softmax::logsumexp_into(xv, axis, true, out);
            });
        }
    });
}

#[test]
fn products_into() {
    let a = values((5, 7), 9);
    let b = values((7, 4), 10);
    let v = values(Ix1(7), 11);
    for_layouts(&a, |layout, av| {
        for_layouts(&b, |b_layout, bv| {
            let e = linalg::matmul(av, bv);
            check_outs(&format!("matmul ({layout} a, {b_layout} b)"), &e, |out| {
                linalg::matmul_into(av, bv, out);
            });
        });
        for_layouts(&v, |v_layout, vv| {
            let e = linalg::matvec(av, vv);
            check_outs(&format!("matvec ({layout} a, {v_layout} x)"), &e, |out| {
                linalg::matvec_into(av, vv, out);
            });
        });
    });
    for_layouts(&b, |layout, bv| {
        let e = linalg::vecmat(v.view(), bv);
        check_outs(&format!("vecmat ({layout})"), &e, |out| {
            linalg::vecmat_into(v.view(), bv, out);
        });
    });
    let a3 = values((3, 5, 7), 12);
    let b3 = values((3, 7, 4), 13);
    for_layouts(&a3, |layout, av| {
        let e = batched::batch_matmul(av, b3.view());
        check_outs(&format!("batch_matmul ({layout})"), &e, |out| {
            batched::batch_matmul_into(av, b3.view(), out);
        });
        let e = batched::batch_matmul_shared(av, b.view());
        check_outs(&format!("batch_matmul_shared ({layout})"), &e, |out| {
            batched::batch_matmul_shared_into(av, b.view(), out);
        });
    });
}

#[test]
fn conv_and_pools_into() {
    let images = values((2, 7, 6, 3), 14);
    let filter = values((3, 2, 3, 5), 15);
    for_layouts(&images, |layout, iv| {
        for padding in [conv::Padding::Valid, conv::Padding::Same] {
            for (strides, dilations) in [((1, 1), (1, 1)), ((2, 3), (1, 1)), ((1, 2), (2, 1))] {
                let context = format!("conv2d {padding:?} {strides:?} {dilations:?} ({layout})");
                let e = conv::conv2d(iv, filter.view(), strides, padding, dilations);
                check_outs(&context, &e, |out| {
                    conv::conv2d_into(iv, filter.view(), strides, padding, dilations, out);
                });
                let filter_f = column_major(&filter);
                check_outs(&format!("{context} column-major filter"), &e, |out| {
                    conv::conv2d_into(iv, filter_f.view(), strides, padding, dilations, out);
                });
            }
            for (window, strides) in [((2, 2), (2, 2)), ((3, 2), (1, 2))] {
                let context = format!("pools {padding:?} {window:?} {strides:?} ({layout})");
                let e = conv::max_pool2d(iv, window, strides, padding);
                check_outs(&context, &e, |out| {
                    conv::max_pool2d_into(iv, window, strides, padding, out);
                });
                let e = conv::avg_pool2d(iv, window, strides, padding);
                check_outs(&context, &e, |out| {
                    conv::avg_pool2d_into(iv, window, strides, padding, out);
                });
            }
        }
    });
}

#[test]
fn nn_into() {
    let x = values((4, 3, 5), 16);
    let (mean, variance, scale, offset) = (
        values(Ix1(5), 17),
        values(Ix1(5), 18).mapv(f32::abs),
        values(Ix1(5), 19),
        values(Ix1(5), 20),
    );
    for_layouts(&x, |layout, xv| {
        let e = nn::batch_norm(
            xv,
            mean.view(),
            variance.view(),
            scale.view(),
            offset.view(),
            1e-3,
        );
        check_outs(&format!("batch_norm ({layout})"), &e, |out| {
            nn::batch_norm_into(
                xv,
                mean.view(),
                variance.view(),
                scale.view(),
                offset.view(),
                1e-3,
                out,
            );
        });
        let e = nn::layer_norm(xv, scale.view(), offset.view(), 1e-5);
        check_outs(&format!("layer_norm ({layout})"), &e, |out| {
            nn::layer_norm_into(xv, scale.view(), offset.view(), 1e-5, out);
        });
    });
    // Many channels: more than one block of precomputed gains.
    let wide_x = values((2, 150), 21);
    let c = values(Ix1(150), 22).mapv(f32::abs);
    let e = nn::batch_norm(wide_x.view(), c.view(), c.view(), c.view(), c.view(), 0.5);
    check_outs("batch_norm 150 channels", &e, |out| {
        nn::batch_norm_into(
            wide_x.view(),
            c.view(),
            c.view(),
            c.view(),
            c.view(),
            0.5,
            out,
        );
    });
    let table = values((6, 4), 23);
    let ids = Array2::from_shape_fn((2, 3), |(i, j)| (i * 3 + j * 2) % 6);
    for_layouts(&table, |layout, tv| {
        let e: Array3<f32> = nn::gather(tv, ids.view(), "ids").unwrap();
        check_outs(&format!("gather ({layout})"), &e, |out| {
            nn::gather_into(tv, ids.view(), "ids", out).unwrap();
        });
        let e: Array3<f32> = nn::gather(tv, ids.t(), "ids").unwrap();
        check_outs(&format!("gather transposed ids ({layout})"), &e, |out| {
            nn::gather_into(tv, ids.t(), "ids", out).unwrap();
        });
    });
    let mut out = Array3::<f32>::zeros((1, 2, 4));
    let bad = nn::gather_into(
        table.view(),
        ndarray::array![[1, 6]].view(),
        "ids",
        out.view_mut(),
    );
    assert!(bad.is_err());
}

#[test]
fn losses_into() {
    let logits = values((4, 5), 24).mapv(|v| v * 100.0);
    let labels = values((4, 5), 25).mapv(f32::abs);
    let classes = ndarray::array![0, 4, 2, 2];
    for_layouts(&logits, |layout, lv| {
        let e = loss::softmax_cross_entropy(lv, labels.view());
        check_outs(&format!("softmax_cross_entropy ({layout})"), &e, |out| {
            loss::softmax_cross_entropy_into(lv, labels.view(), out);
        });
        let mean = loss::softmax_cross_entropy_mean(lv, labels.view());
        let by_hand = e.iter().map(|&v| f64::from(v)).sum::<f64>() / 4.0;
        #[allow(clippy::cast_possible_truncation)] // Rounding as the kernel does.
        let by_hand = by_hand as f32;
        assert_eq!(mean, by_hand);
        let e = loss::softmax_cross_entropy_indices(lv, classes.view(), "y").unwrap();
        check_outs(
            &format!("softmax_cross_entropy_indices ({layout})"),
            &e,
            |out| {
                loss::softmax_cross_entropy_indices_into(lv, classes.view(), "y", out).unwrap();
            },
        );
        let e = loss::sigmoid_cross_entropy(lv, labels.view());
        check_outs(&format!("sigmoid_cross_entropy ({layout})"), &e, |out| {
            loss::sigmoid_cross_entropy_into(lv, labels.view(), out);
        });
    });
}

#[test]
fn movement_into() {
    let x = values((2, 3, 4), 26);
    for_layouts(&x, |layout, xv| {
        let context = |op: &str| format!("{op} ({layout})");
        let e = movement::permute(xv, &[2, 0, 1]);
        check_outs(&context("permute"), &e, |out| {
            movement::permute_into(xv, &[2, 0, 1], out);
        });
        let e = movement::transpose(xv);
        check_outs(&context("transpose"), &e, |out| {
            movement::transpose_into(xv, out);
        });
        let e: Array2<f32> = movement::reshape(xv, &[6, 4]);
        check_outs(&context("reshape"), &e, |out| {
            movement::reshape_into(xv, out);
        });
        let e = movement::slice(xv, 2, 1, 3);
        check_outs(&context("slice"), &e, |out| {
            movement::slice_into(xv, 2, 1, 3, out);
        });
        let e: Array4<f32> = movement::expand_dims(xv, 1);
        check_outs(&context("expand_dims"), &e, |out| {
            movement::expand_dims_into(xv, 1, out);
        });
        let parts = [xv, xv.slice_axis(Axis(1), Slice::from(0..1))];
        let e = movement::concat(&parts, 1);
        check_outs(&context("concat"), &e, |out| {
            movement::concat_into(&parts, 1, out);
        });
    });
    let unit = values((1, 3, 1), 27);
    for_layouts(&unit, |layout, uv| {
        let e: Array1<f32> = movement::squeeze(uv, &[2, 0]);
        check_outs(&format!("squeeze ({layout})"), &e, |out| {
            movement::squeeze_into(uv, &[2, 0], out);
        });
        let e: Array3<f32> = movement::broadcast_to(uv, &[2, 3, 4]);
        check_outs(&format!("broadcast_to ({layout})"), &e, |out| {
            movement::broadcast_to_into(uv, out);
        });
    });
}

#[test]
#[should_panic(
    expected = "kernel `relu` called with operands of incompatible shapes [[2, 3], [3, 2]]"
)]
fn into_with_wrong_out_shape_panics() {
    let mut out = Array2::<f32>::zeros((3, 2));
    unary::relu_into(Array2::<f32>::zeros((2, 3)).view(), out.view_mut());
}

#[test]
#[should_panic(
    expected = "kernel `add` called with operands of incompatible shapes [[3], [1], [2, 3]]"
)]
fn into_larger_than_broadcast_panics() {
    // Both operands broadcast to [2, 3], but their broadcast shape is [3].
    let mut out = Array2::<f32>::zeros((2, 3));
    elementwise::add_into(
        Array1::<f32>::zeros(3).view(),
        Array1::<f32>::zeros(1).view(),
        out.view_mut(),
    );
}
