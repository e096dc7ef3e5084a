//! The `_into` and `_inplace` kernels on the hot path of MLPs and CNNs
//! perform no heap allocation: a counting global allocator watches each
//! call, with operands in standard layout and in the other layouts the
//! generated code can produce (transposed, strided, broadcast).
//!
//! The counter is per thread, so tests running in parallel do not disturb
//! each other.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use graph_runtime::kernels::dense::{dense_into, dense_into_portable, Activation};
use graph_runtime::kernels::{
    batched, binary, conv, elementwise, linalg, loss, movement, nn, reduce, softmax, unary,
};
use ndarray::{aview0, Array1, Array2, Array3, Array4, Axis};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: the thread's locals may be gone while it exits.
    let counting = COUNTING.try_with(Cell::get).unwrap_or(false);
    if counting {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

// SAFETY: every method forwards to the system allocator unchanged; the
// counting touches only const-initialised thread locals without
// destructors, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The number of heap allocations (and reallocations) `f` makes on this
/// thread.
fn allocations(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}

#[track_caller]
fn assert_no_allocation(what: &str, f: impl FnOnce()) {
    let count = allocations(f);
    assert_eq!(count, 0, "{what} allocated {count} times");
}

fn values(rows: usize, cols: usize, seed: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        ((i * 31 + j * 17 + seed * 7) % 29) as f32 * 0.1 - 1.4
    })
}

#[test]
fn the_counter_sees_allocations() {
    assert_eq!(allocations(|| drop(vec![1_u8; 10])), 1);
    // The allocating forms allocate their result, and only that.
    let (a, b) = (values(2, 3, 0), values(3, 2, 1));
    assert_eq!(allocations(|| drop(linalg::matmul(a.view(), b.view()))), 1);
    let x = values(1, 784, 2);
    let w = values(784, 128, 3);
    let dense = || graph_runtime::kernels::dense::dense(x.view(), w.view(), None, Activation::Relu);
    assert_eq!(allocations(|| drop(dense())), 1);
}

#[test]
fn dense_and_products_allocate_nothing() {
    for batch in [1, 2, 3, 4, 5, 64] {
        for (k, n) in [(784, 128), (128, 10), (64, 256), (256, 256), (9, 3)] {
            let x = values(batch, k, 1);
            let x_t = x.t().to_owned();
            let w = values(k, n, 2);
            let w_t = w.t().to_owned();
            let b = values(1, n, 3).remove_axis(Axis(0));
            let mut out = Array2::zeros((batch, n));
            let mut out_t = Array2::zeros((n, batch));
            let what = format!("dense batch {batch}, {k} -> {n}");
            for activation in [Activation::Relu, Activation::Sigmoid, Activation::Identity] {
                assert_no_allocation(&what, || {
                    dense_into(
                        x.view(),
                        w.view(),
                        Some(b.view()),
                        activation,
                        out.view_mut(),
                    );
                    dense_into_portable(
                        x.view(),
                        w.view(),
                        Some(b.view()),
                        activation,
                        out.view_mut(),
                    );
                });
            }
            assert_no_allocation(&format!("{what}, transposed operands"), || {
                dense_into(x_t.t(), w_t.t(), None, Activation::Tanh, out.view_mut());
                dense_into(
                    x.view(),
                    w_t.t(),
                    Some(b.view()),
                    Activation::Relu,
                    out_t.view_mut().reversed_axes(),
                );
                dense_into_portable(x_t.t(), w_t.t(), None, Activation::Tanh, out.view_mut());
                dense_into_portable(
                    x.view(),
                    w.view(),
                    None,
                    Activation::Relu,
                    out_t.view_mut().reversed_axes(),
                );
            });
            assert_no_allocation(&format!("{what}, matmul_into"), || {
                linalg::matmul_into(x.view(), w.view(), out.view_mut());
                linalg::matmul_into(x_t.t(), w.view(), out.view_mut());
            });
        }
    }
    let a = values(50, 70, 4);
    let v = values(1, 70, 5).remove_axis(Axis(0));
    let u = values(1, 50, 6).remove_axis(Axis(0));
    let mut mv = Array1::zeros(50);
    let mut vm = Array1::zeros(70);
    assert_no_allocation("matvec_into / vecmat_into", || {
        linalg::matvec_into(a.view(), v.view(), mv.view_mut());
        linalg::vecmat_into(u.view(), a.view(), vm.view_mut());
        linalg::matvec_into(a.t().reversed_axes(), v.view(), mv.view_mut());
        let _ = linalg::dot(v.view(), v.view());
    });
    let a3 = Array3::from_shape_fn((4, 6, 70), |(p, i, k)| (p + i + k) as f32 * 0.01);
    let b3 = Array3::from_shape_fn((4, 70, 9), |(p, k, j)| (p + k * j) as f32 * 0.01);
    let mut out3 = Array3::zeros((4, 6, 9));
    let shared = b3.index_axis(Axis(0), 1);
    assert_no_allocation("batch_matmul_into / batch_matmul_shared_into", || {
        batched::batch_matmul_into(a3.view(), b3.view(), out3.view_mut());
        batched::batch_matmul_shared_into(a3.view(), shared, out3.view_mut());
    });
}

/// With the `parallel` feature and two threads, a product split between
/// the calling thread and a helper allocates nothing on the calling thread
/// (the helper runs the same kernels on its block, which allocate nothing
/// either). The helpers are started by `set_threads`, before counting.
#[cfg(feature = "parallel")]
#[test]
fn split_products_allocate_nothing() {
    use graph_runtime::threads;
    let (x, w) = (values(64, 784, 1), values(784, 128, 2));
    let mut out = Array2::zeros((64, 128));
    threads::set_threads(2);
    for _ in 0..3 {
        assert_no_allocation("dense 64 x 784 x 128 on two threads", || {
            for _ in 0..20 {
                dense_into(x.view(), w.view(), None, Activation::Relu, out.view_mut());
            }
        });
    }
    threads::set_threads(1);
}

#[test]
fn elementwise_and_activations_allocate_nothing() {
    let x = values(64, 128, 7);
    let bias = values(1, 128, 8).remove_axis(Axis(0));
    let column = values(64, 1, 9);
    let mut out = Array2::zeros((64, 128));
    let mut y = x.clone();
    let mut mask = Array2::from_elem((64, 128), false);
    assert_no_allocation("elementwise _into and _inplace", || {
        elementwise::add_into(x.view(), bias.view(), out.view_mut());
        elementwise::sub_into(x.t(), column.t(), out.view_mut().reversed_axes());
        elementwise::mul_into(x.view(), aview0(&2.0), out.view_mut());
        elementwise::div_into(column.view(), bias.view(), out.view_mut());
        elementwise::neg_into(x.view(), out.view_mut());
        elementwise::add_inplace(y.view_mut(), bias.view());
        elementwise::mul_inplace(y.view_mut(), column.view());
        elementwise::sub_inplace(y.view_mut(), aview0(&1.0));
        elementwise::div_inplace(y.view_mut(), x.view());
        elementwise::neg_inplace(y.view_mut());
        binary::maximum_into(x.view(), aview0(&0.0), out.view_mut());
        binary::gt_into(x.view(), bias.view(), mask.view_mut());
        binary::select_into(mask.view(), x.view(), aview0(&0.0), out.view_mut());
    });
    assert_no_allocation("activations _into and _inplace", || {
        unary::relu_into(x.view(), out.view_mut());
        unary::relu_inplace(y.view_mut());
        unary::leaky_relu_into(x.t(), 0.1, out.view_mut().reversed_axes());
        unary::sigmoid_into(x.view(), out.view_mut());
        unary::sigmoid_inplace(y.view_mut());
        unary::tanh_into(x.view(), out.view_mut());
        unary::tanh_inplace(y.view_mut());
        unary::gelu_tanh_into(x.view(), out.view_mut());
        unary::gelu_exact_inplace(y.view_mut());
        unary::softplus_into(x.view(), out.view_mut());
        unary::clip_inplace(y.view_mut(), 0.0, 6.0);
        unary::silu_into(x.view(), out.view_mut());
        unary::silu_inplace(y.view_mut());
        unary::elu_into(x.t(), 1.0, out.view_mut().reversed_axes());
        unary::elu_inplace(y.view_mut(), 1.0);
        unary::hard_sigmoid_into(x.view(), 0.2, 0.5, out.view_mut());
        unary::hard_sigmoid_inplace(y.view_mut(), 1.0 / 6.0, 0.5);
        unary::exp_into(x.view(), out.view_mut());
    });
}

#[test]
fn softmax_and_reductions_allocate_nothing() {
    let logits = values(64, 10, 10);
    let mut probabilities = Array2::zeros((64, 10));
    let mut y = logits.clone();
    let mut per_row = Array1::zeros(64);
    let mut kept = Array2::zeros((64, 1));
    let mut classes = Array1::<usize>::zeros(64);
    let labels = Array1::from_shape_fn(64, |i| i % 10);
    let one_hot = Array2::from_shape_fn((64, 10), |(i, j)| if i % 10 == j { 1.0 } else { 0.0 });
    assert_no_allocation("softmax family over the last axis", || {
        softmax::softmax_into(logits.view(), 1, probabilities.view_mut());
        softmax::log_softmax_into(logits.view(), 1, probabilities.view_mut());
        softmax::softmax_inplace(y.view_mut(), 1);
        softmax::log_softmax_inplace(y.view_mut(), 1);
        softmax::logsumexp_into(logits.view(), 1, false, per_row.view_mut());
        softmax::logsumexp_into(logits.view(), 1, true, kept.view_mut());
        softmax::softmax_into(logits.t(), 0, probabilities.view_mut().reversed_axes());
    });
    assert_no_allocation("reductions over the last axis", || {
        reduce::sum_into(logits.view(), &[1], false, per_row.view_mut());
        reduce::mean_into(logits.view(), &[1], true, kept.view_mut());
        reduce::max_into(logits.view(), &[1], false, per_row.view_mut());
        reduce::min_into(logits.t(), &[0], false, per_row.view_mut());
        reduce::argmax_into(logits.view(), 1, classes.view_mut());
        reduce::argmin_into(logits.view(), 1, classes.view_mut());
    });
    let images = Array4::from_shape_fn((8, 7, 7, 32), |(b, y, x, c)| (b + y * x + c) as f32 * 0.01);
    let mut pooled = Array2::zeros((8, 32));
    let mut pooled_kept = Array4::zeros((8, 1, 1, 32));
    assert_no_allocation("global average pooling (mean over axes 1 and 2)", || {
        reduce::mean_into(images.view(), &[1, 2], false, pooled.view_mut());
        reduce::mean_into(images.view(), &[1, 2], true, pooled_kept.view_mut());
        reduce::sum_into(images.view(), &[2, 1], false, pooled.view_mut());
    });
    let mut total = 0.0;
    assert_no_allocation("losses", || {
        loss::softmax_cross_entropy_into(logits.view(), one_hot.view(), per_row.view_mut());
        total += loss::softmax_cross_entropy_mean(logits.view(), one_hot.view());
        loss::softmax_cross_entropy_indices_into(
            logits.view(),
            labels.view(),
            "y",
            per_row.view_mut(),
        )
        .unwrap();
        total +=
            loss::softmax_cross_entropy_indices_mean(logits.view(), labels.view(), "y").unwrap();
        total += loss::mse(logits.view(), one_hot.view());
        loss::sigmoid_cross_entropy_into(logits.view(), one_hot.view(), probabilities.view_mut());
    });
    assert!(total.is_finite());
}

#[test]
fn convolution_and_pools_allocate_nothing() {
    let images = Array4::from_shape_fn((2, 12, 12, 8), |(b, y, x, c)| {
        ((b + y + x * c) % 7) as f32 * 0.1
    });
    let images_f = images.t().as_standard_layout().into_owned();
    let filter = Array4::from_shape_fn((3, 3, 8, 16), |(i, j, c, o)| {
        ((i + j + c + o) % 5) as f32 * 0.1
    });
    for padding in [conv::Padding::Same, conv::Padding::Valid] {
        for strides in [(1, 1), (2, 2)] {
            let rows = conv::conv_output_size(12, 3, strides.0, 1, padding);
            let mut out = Array4::zeros((2, rows, rows, 16));
            let mut pooled = Array4::zeros((
                2,
                conv::conv_output_size(12, 2, 2, 1, padding),
                conv::conv_output_size(12, 2, 2, 1, padding),
                8,
            ));
            let what = format!("conv2d / pools {padding:?} {strides:?}");
            assert_no_allocation(&what, || {
                conv::conv2d_into(
                    images.view(),
                    filter.view(),
                    strides,
                    padding,
                    (1, 1),
                    out.view_mut(),
                );
                conv::conv2d_into(
                    images_f.t(),
                    filter.view(),
                    strides,
                    padding,
                    (1, 1),
                    out.view_mut(),
                );
                conv::max_pool2d_into(images.view(), (2, 2), (2, 2), padding, pooled.view_mut());
                conv::avg_pool2d_into(images.view(), (2, 2), (2, 2), padding, pooled.view_mut());
            });
        }
    }
}

#[test]
fn normalisation_and_movement_allocate_nothing() {
    let x = values(16, 32, 11);
    let p = values(1, 32, 12).remove_axis(Axis(0));
    let variance = p.mapv(f32::abs);
    let mut out = Array2::zeros((16, 32));
    let mut out_t = Array2::zeros((32, 16));
    let table = values(50, 32, 13);
    let ids = Array1::from_shape_fn(16, |i| (i * 7) % 50);
    let mut flat = Array1::zeros(16 * 32);
    let mut joined = Array2::zeros((16, 64));
    let mut sliced = Array2::zeros((16, 8));
    let mut expanded = Array3::zeros((16, 1, 32));
    let mut padded = Array2::zeros((19, 34));
    assert_no_allocation("normalisations and lookup", || {
        nn::layer_norm_into(x.view(), p.view(), p.view(), 1e-5, out.view_mut());
        nn::batch_norm_into(
            x.view(),
            p.view(),
            variance.view(),
            p.view(),
            p.view(),
            1e-3,
            out.view_mut(),
        );
        nn::gather_into(table.view(), ids.view(), "ids", out.view_mut()).unwrap();
    });
    assert_no_allocation("movement", || {
        movement::transpose_into(x.view(), out_t.view_mut());
        movement::permute_into(x.view(), &[1, 0], out_t.view_mut());
        movement::reshape_into(x.t(), flat.view_mut());
        movement::reshape_into(x.view(), flat.view_mut());
        movement::concat_into(&[x.view(), x.view()], 1, joined.view_mut());
        movement::slice_into(x.view(), 1, 4, 12, sliced.view_mut());
        movement::broadcast_to_into(p.view(), out.view_mut());
        movement::expand_dims_into(x.view(), 1, expanded.view_mut());
        movement::squeeze_into(expanded.view(), &[1], out.view_mut());
        movement::pad_into(x.view(), &[[1, 2], [0, 2]], -1.0, padded.view_mut());
    });
}

#[test]
fn convolution_and_pool_gradients_allocate_nothing() {
    use graph_runtime::flat::{self, Conv2dDims, Pool2dDims};
    use graph_runtime::kernels::conv_grad;

    let images = Array4::from_shape_fn((2, 9, 8, 3), |(b, y, x, c)| {
        ((b * 5 + y * 3 + x * 7 + c) % 13) as f32 * 0.1 - 0.6
    });
    let filter = Array4::from_shape_fn((3, 3, 3, 70), |(i, j, c, o)| {
        ((i + j * 2 + c * 3 + o) % 7) as f32 * 0.2 - 0.6
    });
    let columns = images.t().as_standard_layout().into_owned();
    for padding in [conv::Padding::Same, conv::Padding::Valid] {
        for (strides, dilations) in [((1, 1), (1, 1)), ((2, 1), (1, 2))] {
            let rows = conv::conv_output_size(9, 3, strides.0, dilations.0, padding);
            let cols = conv::conv_output_size(8, 3, strides.1, dilations.1, padding);
            let grad = Array4::from_elem((2, rows, cols, 70), 0.5_f32);
            let mut dx = Array4::zeros((2, 9, 8, 3));
            let mut df = Array4::zeros((3, 3, 3, 70));
            let what = format!("conv gradients {padding:?} {strides:?} {dilations:?}");
            assert_no_allocation(&what, || {
                conv_grad::conv2d_input_grad_into(
                    grad.view(),
                    filter.view(),
                    strides,
                    padding,
                    dilations,
                    dx.view_mut(),
                );
                conv_grad::conv2d_filter_grad_into(
                    columns.t(),
                    grad.view(),
                    strides,
                    padding,
                    dilations,
                    df.view_mut(),
                );
            });
            let dims = Conv2dDims {
                n: 2,
                h: 9,
                w: 8,
                c: 3,
                kh: 3,
                kw: 3,
                o: 70,
                strides,
                dilations,
                padding,
            };
            let (pixels, taps) = (images.as_slice().unwrap(), filter.as_slice().unwrap());
            let grad_s = grad.as_slice().unwrap();
            let mut flat_out = vec![0.0; dims.output_len()];
            let mut input_grad = vec![0.0; 2 * 9 * 8 * 3];
            let mut filter_grad = vec![0.0; 3 * 3 * 3 * 70];
            assert_no_allocation(&format!("flat {what}"), || {
                flat::conv2d(pixels, taps, dims, &mut flat_out);
                flat::conv2d_input_grad(grad_s, taps, dims, &mut input_grad);
                flat::conv2d_filter_grad(pixels, grad_s, dims, &mut filter_grad);
            });
            let pool_rows = conv::conv_output_size(9, 2, strides.0, 1, padding);
            let pool_cols = conv::conv_output_size(8, 2, strides.1, 1, padding);
            let pooled_grad = Array4::from_elem((2, pool_rows, pool_cols, 3), 1.0_f32);
            let mut pooled = vec![0.0; pooled_grad.len()];
            let pool = Pool2dDims {
                n: 2,
                h: 9,
                w: 8,
                c: 3,
                window: (2, 2),
                strides,
                padding,
            };
            assert_no_allocation("pool gradients", || {
                for input in [images.view(), columns.t()] {
                    conv_grad::max_pool2d_grad_into(
                        input,
                        pooled_grad.view(),
                        (2, 2),
                        strides,
                        padding,
                        dx.view_mut(),
                    );
                }
                conv_grad::avg_pool2d_grad_into(
                    pooled_grad.view(),
                    (2, 2),
                    strides,
                    padding,
                    dx.view_mut(),
                );
                flat::max_pool2d(pixels, pool, &mut pooled);
                flat::avg_pool2d(pixels, pool, &mut pooled);
                flat::max_pool2d_grad(
                    pixels,
                    pooled_grad.as_slice().unwrap(),
                    pool,
                    &mut input_grad,
                );
                flat::avg_pool2d_grad(pooled_grad.as_slice().unwrap(), pool, &mut input_grad);
            });
        }
    }
}

#[test]
fn norm_gradients_and_training_norms_allocate_nothing() {
    use graph_runtime::flat;
    use graph_runtime::kernels::norm_grad;

    // Norms over 70 features: two blocks of batch statistics.
    let x = values(16, 70, 14);
    let p = values(1, 70, 15).remove_axis(Axis(0));
    let mut out = Array2::zeros((16, 70));
    let (mut mean, mut var) = (Array1::zeros(70), Array1::zeros(70));
    let x3 = Array3::from_shape_fn((2, 4, 70), |(a, b, c)| ((a + b * 3 + c) % 9) as f32);
    let mut out3 = Array3::zeros((2, 4, 70));
    assert_no_allocation("norm gradients and training batch norm", || {
        norm_grad::layer_norm_grad_into(x.view(), p.view(), x.view(), 1e-5, out.view_mut());
        norm_grad::layer_norm_normalized_into(x.view(), 1e-5, out.view_mut());
        norm_grad::batch_norm_train_into(
            x.view(),
            p.view(),
            p.view(),
            1e-3,
            out.view_mut(),
            mean.view_mut(),
            var.view_mut(),
        );
        norm_grad::batch_norm_train_normalized_into(x3.view(), 1e-3, out3.view_mut());
        norm_grad::batch_norm_train_grad_into(
            x3.view(),
            p.view(),
            x3.view(),
            1e-3,
            out3.view_mut(),
        );
    });
    let (xs, ps) = (x.as_slice().unwrap(), p.as_slice().unwrap());
    let mut flat_out = vec![0.0; 16 * 70];
    let (mut m, mut v) = (vec![0.0; 70], vec![0.0; 70]);
    assert_no_allocation("flat norms", || {
        flat::layer_norm(xs, ps, ps, (16, 70), 1e-5, &mut flat_out);
        flat::layer_norm_grad(xs, ps, xs, (16, 70), 1e-5, &mut flat_out);
        flat::layer_norm_normalized(xs, (16, 70), 1e-5, &mut flat_out);
        flat::batch_norm(xs, ps, ps, ps, ps, (16, 70), 1e-3, &mut flat_out);
        flat::batch_norm_train(xs, ps, ps, (16, 70), 1e-3, &mut flat_out, &mut m, &mut v);
        flat::batch_norm_train_normalized(xs, (16, 70), 1e-3, &mut flat_out);
        flat::batch_norm_train_grad(xs, ps, xs, (16, 70), 1e-3, &mut flat_out);
    });
}
