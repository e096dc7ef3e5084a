//! The forward convolution and pools of a LeNet-style CNN on 16 × 16
//! images, at batch 1 and 64:
//!
//! - `conv5x5_1to8`: `[n, 16, 16, 1]` by a 5 × 5 × 1 × 8 filter, SAME;
//! - `conv3x3_8to16`: `[n, 8, 8, 8]` by a 3 × 3 × 8 × 16 filter, SAME;
//! - `conv3x3_8to16_stride2`: `[n, 16, 16, 8]` by the same filter,
//!   stride 2, SAME;
//! - `conv1x1_16to32`: `[n, 8, 8, 16]` by a 1 × 1 × 16 × 32 filter;
//! - `max_pool` / `avg_pool`: 2 × 2 windows, stride 2, over
//!   `[n, 16, 16, 8]`.
//!
//! Each convolution runs `conv::conv2d_into` (`im2col`) and the direct
//! kernel it replaced, `conv::conv2d_into_direct` (`direct`), on the same
//! operands. Run with `cargo bench -p graph-runtime --bench conv`; medians
//! are in `target/criterion/<group>/<function>/new/estimates.json`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use graph_runtime::kernels::conv::{self, Padding};
use ndarray::Array4;

/// Deterministic values in [-0.5, 0.5).
fn values(shape: (usize, usize, usize, usize), seed: u32) -> Array4<f32> {
    let mut state = seed;
    Array4::from_shape_simple_fn(shape, || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 8) as f32 / (1 << 24) as f32 - 0.5
    })
}

/// One convolution layer: input `[_, h, w, c]`, filter `[kh, kw, c, o]`.
struct Layer {
    name: &'static str,
    image: (usize, usize, usize),
    filter: (usize, usize, usize, usize),
    strides: (usize, usize),
}

const LAYERS: [Layer; 4] = [
    Layer {
        name: "conv5x5_1to8",
        image: (16, 16, 1),
        filter: (5, 5, 1, 8),
        strides: (1, 1),
    },
    Layer {
        name: "conv3x3_8to16",
        image: (8, 8, 8),
        filter: (3, 3, 8, 16),
        strides: (1, 1),
    },
    Layer {
        name: "conv3x3_8to16_stride2",
        image: (16, 16, 8),
        filter: (3, 3, 8, 16),
        strides: (2, 2),
    },
    Layer {
        name: "conv1x1_16to32",
        image: (8, 8, 16),
        filter: (1, 1, 16, 32),
        strides: (1, 1),
    },
];

type Conv = fn(
    ndarray::ArrayView4<'_, f32>,
    ndarray::ArrayView4<'_, f32>,
    (usize, usize),
    Padding,
    (usize, usize),
    ndarray::ArrayViewMut4<'_, f32>,
);

fn convolutions(c: &mut Criterion) {
    for layer in &LAYERS {
        let mut group = c.benchmark_group(layer.name);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        for batch in [1, 64] {
            let (h, w, channels) = layer.image;
            let input = values((batch, h, w, channels), 1);
            let filter = values(layer.filter, 2);
            let out_h =
                conv::conv_output_size(h, layer.filter.0, layer.strides.0, 1, Padding::Same);
            let out_w =
                conv::conv_output_size(w, layer.filter.1, layer.strides.1, 1, Padding::Same);
            let mut out = Array4::zeros((batch, out_h, out_w, layer.filter.3));
            let kernels: [(&str, Conv); 2] = [
                ("im2col", conv::conv2d_into),
                ("direct", conv::conv2d_into_direct),
            ];
            for (name, kernel) in kernels {
                group.bench_function(BenchmarkId::new(name, batch), |bench| {
                    bench.iter(|| {
                        kernel(
                            black_box(input.view()),
                            filter.view(),
                            layer.strides,
                            Padding::Same,
                            (1, 1),
                            out.view_mut(),
                        );
                        black_box(out[[0, 0, 0, 0]])
                    });
                });
            }
        }
        group.finish();
    }
}

fn pools(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool2x2_16x16x8");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for batch in [1, 64] {
        let input = values((batch, 16, 16, 8), 3);
        let mut out = Array4::zeros((batch, 8, 8, 8));
        group.bench_function(BenchmarkId::new("max_pool", batch), |bench| {
            bench.iter(|| {
                conv::max_pool2d_into(
                    black_box(input.view()),
                    (2, 2),
                    (2, 2),
                    Padding::Valid,
                    out.view_mut(),
                );
                black_box(out[[0, 0, 0, 0]])
            });
        });
        group.bench_function(BenchmarkId::new("avg_pool", batch), |bench| {
            bench.iter(|| {
                conv::avg_pool2d_into(
                    black_box(input.view()),
                    (2, 2),
                    (2, 2),
                    Padding::Valid,
                    out.view_mut(),
                );
                black_box(out[[0, 0, 0, 0]])
            });
        });
    }
    group.finish();
}

criterion_group!(benches, convolutions, pools);
criterion_main!(benches);
