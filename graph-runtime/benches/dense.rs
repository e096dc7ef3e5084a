//! Dense-layer kernels on the MLPs of the benchmark suite (784-128-10 and
//! 64-256-256-10, `ReLU` between layers) at batch 1, 64 and 256, one
//! criterion group per model and batch:
//!
//! - `ndarray_dot`: `x.dot(&w) + &b` then `mapv` `ReLU`, allocating (naive);
//! - `ndarray_tuned`: `general_mat_mul` into preallocated buffers, then one
//!   fused bias + `ReLU` pass;
//! - `dense_into`: this crate's dispatching kernel (SIMD on AVX2 + FMA
//!   CPUs), epilogue fused, into preallocated buffers;
//! - `dense_portable`: the same through the portable kernel.
//!
//! Run with `cargo bench -p graph-runtime --bench dense`; medians are in
//! `target/criterion/<group>/<function>/new/estimates.json`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use graph_runtime::kernels::dense::{dense_into, dense_into_portable, Activation};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2, Zip};

type Kernel = fn(
    ArrayView2<'_, f32>,
    ArrayView2<'_, f32>,
    Option<ArrayView1<'_, f32>>,
    Activation,
    ArrayViewMut2<'_, f32>,
);

struct Layer {
    w: Array2<f32>,
    b: Array1<f32>,
    /// `ReLU` after this layer (all but the last).
    relu: bool,
}

fn model(sizes: &[usize]) -> Vec<Layer> {
    let mut seed = 1_u32;
    let mut next = move || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 8) as f32 / (1 << 24) as f32 - 0.5
    };
    sizes
        .windows(2)
        .enumerate()
        .map(|(i, pair)| Layer {
            w: Array2::from_shape_simple_fn((pair[0], pair[1]), &mut next),
            b: Array1::from_shape_simple_fn(pair[1], &mut next),
            relu: i + 2 < sizes.len(),
        })
        .collect()
}

fn activation(layer: &Layer) -> Activation {
    if layer.relu {
        Activation::Relu
    } else {
        Activation::Identity
    }
}

fn bench_model(c: &mut Criterion, name: &str, sizes: &[usize], batch: usize) {
    let layers = model(sizes);
    let x = Array2::from_shape_fn((batch, sizes[0]), |(i, j)| {
        ((i * 7 + j * 3) % 11) as f32 * 0.1
    });
    // One preallocated buffer per layer output.
    let mut buffers: Vec<Array2<f32>> = layers
        .iter()
        .map(|layer| Array2::zeros((batch, layer.w.ncols())))
        .collect();

    let mut group = c.benchmark_group(format!("{name}/batch{batch}"));
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));

    group.bench_function("ndarray_dot", |bench| {
        bench.iter(|| {
            let mut h = x.clone();
            for layer in &layers {
                h = h.dot(&layer.w) + &layer.b;
                if layer.relu {
                    h = h.mapv(|v| v.max(0.0));
                }
            }
            black_box(h)
        });
    });

    group.bench_function("ndarray_tuned", |bench| {
        bench.iter(|| {
            for i in 0..layers.len() {
                let (done, rest) = buffers.split_at_mut(i);
                let input = if i == 0 { x.view() } else { done[i - 1].view() };
                let out = &mut rest[0];
                let layer = &layers[i];
                general_mat_mul(1.0, &input, &layer.w, 0.0, out);
                let relu = layer.relu;
                Zip::from(out.rows_mut()).for_each(|row| {
                    Zip::from(row).and(&layer.b).for_each(|o, &b| {
                        let v = *o + b;
                        *o = if relu && v < 0.0 { 0.0 } else { v };
                    });
                });
            }
            black_box(buffers.last().map(|b| b[[0, 0]]))
        });
    });

    for (label, kernel) in [
        ("dense_into", dense_into as Kernel),
        ("dense_portable", dense_into_portable as Kernel),
    ] {
        group.bench_function(label, |bench| {
            bench.iter(|| run(kernel, &layers, &x, &mut buffers));
        });
    }
    group.finish();
}

/// Runs the model through `kernel`, layer outputs in `buffers`.
fn run(kernel: Kernel, layers: &[Layer], x: &Array2<f32>, buffers: &mut [Array2<f32>]) -> f32 {
    for (i, layer) in layers.iter().enumerate() {
        let (done, rest) = buffers.split_at_mut(i);
        let input = if i == 0 { x.view() } else { done[i - 1].view() };
        kernel(
            input,
            layer.w.view(),
            Some(layer.b.view()),
            activation(layer),
            rest[0].view_mut(),
        );
    }
    black_box(buffers[buffers.len() - 1][[0, 0]])
}

fn mlps(c: &mut Criterion) {
    for batch in [1, 64, 256] {
        bench_model(c, "mlp_784_128_10", &[784, 128, 10], batch);
        bench_model(c, "mlp_64_256_256_10", &[64, 256, 256, 10], batch);
    }
}

criterion_group!(benches, mlps);
criterion_main!(benches);
