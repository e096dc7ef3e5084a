//! ONNX models imported at build time (`#[onnx(..)]`), one forward pass at
//! batch 1 and 64: the fixture MLP (64-32-10) and LeNet-style CNN
//! (1x16x16) of `tests/reference/fixtures/onnx/`. Function `staticflow`
//! is the workspace form (`logits_with`, no allocation per call); the
//! peers crate (`benchmarks/peers`) times tract loading the same files on
//! the same inputs, and `benches/onnxruntime_bench.py` onnxruntime.
//!
//! Inputs: batch 1 is the fixture's `b1` input; batch 64 repeats the five
//! rows of its `b5` input (row `i` is row `i mod 5`). Before a row is
//! timed, both fixture batches must match onnxruntime's outputs (1e-5
//! relative, 1e-6 absolute floor). Run with
//! `cargo bench -p staticflow-benches --features onnx --bench onnx`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use staticflow::graph;
use staticflow::ndarray::{Array, ArrayD, Axis, Dimension, Ix2, Ix4};
use staticflow::weights::read_npy_f32;

graph! {
    #[onnx("../tests/reference/fixtures/onnx/mlp.onnx")]
    struct Mlp;
}

graph! {
    #[onnx("../tests/reference/fixtures/onnx/lenet.onnx")]
    struct Lenet;
}

fn fixture(name: &str) -> ArrayD<f32> {
    let path = format!(
        "{}/../tests/reference/fixtures/onnx/{name}.npy",
        env!("CARGO_MANIFEST_DIR")
    );
    read_npy_f32(path).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// The `b5` input repeated to `batch` rows.
fn batch_of<D: Dimension>(model: &str, input: &str, batch: usize) -> Array<f32, D> {
    let five = fixture(&format!("{model}.b5.{input}"));
    let rows: Vec<_> = (0..batch)
        .map(|i| five.index_axis(Axis(0), i % 5))
        .collect();
    staticflow::ndarray::stack(Axis(0), &rows)
        .unwrap()
        .into_dimensionality::<D>()
        .unwrap()
}

fn check(what: &str, got: &ArrayD<f32>, want: &ArrayD<f32>) {
    assert_eq!(got.shape(), want.shape(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-5 * w.abs() + 1e-6,
            "{what}: {g} against {w}"
        );
    }
}

/// A model's two rows: checked at batch 1 and 5, then timed at 1 and 64.
/// (A macro: each imported model is a type of its own.)
macro_rules! rows {
    ($c:expr, $model:ident, $workspace:ident, $name:literal, $input:literal, $dim:ty) => {{
        let model = $model::new();
        let mut workspace = $workspace::default();
        for b in ["b1", "b5"] {
            let x = fixture(&format!("{}.{b}.{}", $name, $input))
                .into_dimensionality::<$dim>()
                .unwrap();
            let got = model
                .logits_with(&mut workspace, &x)
                .unwrap()
                .to_owned()
                .into_dyn();
            check($name, &got, &fixture(&format!("{}.{b}.logits", $name)));
        }
        for batch in [1, 64] {
            let x = batch_of::<$dim>($name, $input, batch);
            let mut group = $c.benchmark_group(format!("onnx_{}_batch{batch}", $name));
            group.bench_function("staticflow", |bencher| {
                bencher.iter(|| {
                    black_box(model.logits_with(&mut workspace, black_box(&x)).unwrap());
                });
            });
            group.finish();
        }
    }};
}

fn mlp(c: &mut Criterion) {
    rows!(c, Mlp, MlpWorkspace, "mlp", "input", Ix2);
}

fn lenet(c: &mut Criterion) {
    rows!(c, Lenet, LenetWorkspace, "lenet", "image", Ix4);
}

criterion_group!(benches, mlp, lenet);
criterion_main!(benches);
