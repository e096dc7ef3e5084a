//! Convolution gradients against the forward convolution on CNN layers of
//! MNIST size, one criterion group per layer:
//!
//! - `forward`: `conv::conv2d_into`;
//! - `input_grad`: `conv_grad::conv2d_input_grad_into`;
//! - `filter_grad`: `conv_grad::conv2d_filter_grad_into`;
//! - `flat_*`: the `flat` slice kernels of `#[no_std]` graphs, for
//!   comparison;
//! - `max_pool_grad` / `avg_pool_grad`: the pool gradients after the layer.
//!
//! A training step runs the forward and both gradients, so the gradients
//! should cost about what the forward does. Run with
//! `cargo bench -p graph-runtime --bench conv_grad`; medians are in
//! `target/criterion/<group>/<function>/new/estimates.json`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use graph_runtime::flat::{self, Conv2dDims, Pool2dDims};
use graph_runtime::kernels::conv::{self, Padding};
use graph_runtime::kernels::conv_grad;
use ndarray::Array4;

/// Deterministic values in [-0.5, 0.5).
fn values(shape: (usize, usize, usize, usize), seed: u32) -> Array4<f32> {
    let mut state = seed;
    Array4::from_shape_simple_fn(shape, || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 8) as f32 / (1 << 24) as f32 - 0.5
    })
}

fn bench_layer(c: &mut Criterion, name: &str, dims: Conv2dDims) {
    let (oh, ow) = (dims.out_h(), dims.out_w());
    let input = values((dims.n, dims.h, dims.w, dims.c), 1);
    let filter = values((dims.kh, dims.kw, dims.c, dims.o), 2);
    let grad = values((dims.n, oh, ow, dims.o), 3);
    let mut out = Array4::zeros((dims.n, oh, ow, dims.o));
    let mut input_grad = Array4::zeros(input.dim());
    let mut filter_grad = Array4::zeros(filter.dim());

    // The pools read the layer's output: computed here, so that they see
    // it when the benchmarks are filtered.
    conv::conv2d_into(
        input.view(),
        filter.view(),
        dims.strides,
        dims.padding,
        dims.dilations,
        out.view_mut(),
    );

    let mut group = c.benchmark_group(name);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.bench_function("forward", |bench| {
        bench.iter(|| {
            conv::conv2d_into(
                input.view(),
                filter.view(),
                dims.strides,
                dims.padding,
                dims.dilations,
                out.view_mut(),
            );
            black_box(out[[0, 0, 0, 0]])
        });
    });
    group.bench_function("input_grad", |bench| {
        bench.iter(|| {
            conv_grad::conv2d_input_grad_into(
                grad.view(),
                filter.view(),
                dims.strides,
                dims.padding,
                dims.dilations,
                input_grad.view_mut(),
            );
            black_box(input_grad[[0, 0, 0, 0]])
        });
    });
    group.bench_function("filter_grad", |bench| {
        bench.iter(|| {
            conv_grad::conv2d_filter_grad_into(
                input.view(),
                grad.view(),
                dims.strides,
                dims.padding,
                dims.dilations,
                filter_grad.view_mut(),
            );
            black_box(filter_grad[[0, 0, 0, 0]])
        });
    });
    let (input_s, filter_s, grad_s) = (
        input.as_slice().expect("standard layout"),
        filter.as_slice().expect("standard layout"),
        grad.as_slice().expect("standard layout"),
    );
    let mut flat_out = vec![0.0; dims.output_len()];
    let mut flat_input_grad = vec![0.0; dims.input_len()];
    let mut flat_filter_grad = vec![0.0; dims.filter_len()];
    group.bench_function("flat_forward", |bench| {
        bench.iter(|| {
            flat::conv2d(input_s, filter_s, dims, &mut flat_out);
            black_box(flat_out[0])
        });
    });
    group.bench_function("flat_input_grad", |bench| {
        bench.iter(|| {
            flat::conv2d_input_grad(grad_s, filter_s, dims, &mut flat_input_grad);
            black_box(flat_input_grad[0])
        });
    });
    group.bench_function("flat_filter_grad", |bench| {
        bench.iter(|| {
            flat::conv2d_filter_grad(input_s, grad_s, dims, &mut flat_filter_grad);
            black_box(flat_filter_grad[0])
        });
    });
    group.finish();
    bench_pools(c, name, dims, &out);
}

/// The 2x2 pools after a layer, on its output `out`.
fn bench_pools(c: &mut Criterion, name: &str, dims: Conv2dDims, out: &Array4<f32>) {
    let (oh, ow) = (dims.out_h(), dims.out_w());
    let mut group = c.benchmark_group(name);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    let pool = Pool2dDims {
        n: dims.n,
        h: oh,
        w: ow,
        c: dims.o,
        window: (2, 2),
        strides: (2, 2),
        padding: Padding::Valid,
    };
    let pooled_grad = values((pool.n, pool.out_h(), pool.out_w(), pool.c), 4);
    let mut pooled = Array4::zeros(pooled_grad.dim());
    let mut pool_dx = Array4::zeros(out.dim());
    group.bench_function("max_pool_forward", |bench| {
        bench.iter(|| {
            conv::max_pool2d_into(
                out.view(),
                pool.window,
                pool.strides,
                pool.padding,
                pooled.view_mut(),
            );
            black_box(pooled[[0, 0, 0, 0]])
        });
    });
    group.bench_function("max_pool_grad", |bench| {
        bench.iter(|| {
            conv_grad::max_pool2d_grad_into(
                out.view(),
                pooled_grad.view(),
                pool.window,
                pool.strides,
                pool.padding,
                pool_dx.view_mut(),
            );
            black_box(pool_dx[[0, 0, 0, 0]])
        });
    });
    group.bench_function("avg_pool_grad", |bench| {
        bench.iter(|| {
            conv_grad::avg_pool2d_grad_into(
                pooled_grad.view(),
                pool.window,
                pool.strides,
                pool.padding,
                pool_dx.view_mut(),
            );
            black_box(pool_dx[[0, 0, 0, 0]])
        });
    });
    group.finish();
}

fn layers(c: &mut Criterion) {
    let first = Conv2dDims {
        n: 32,
        h: 28,
        w: 28,
        c: 1,
        kh: 3,
        kw: 3,
        o: 8,
        strides: (1, 1),
        dilations: (1, 1),
        padding: Padding::Same,
    };
    bench_layer(c, "conv_28x28x1_3x3x8_batch32", first);
    let second = Conv2dDims {
        h: 14,
        w: 14,
        c: 8,
        o: 16,
        ..first
    };
    bench_layer(c, "conv_14x14x8_3x3x16_batch32", second);
}

criterion_group!(benches, layers);
criterion_main!(benches);
