//! Rows `onnx_mlp_batch{1,64}` and `onnx_lenet_batch{1,64}` with ID
//! `tract`, beside staticflow's of `benches/onnx.rs` (same files, same
//! inputs: the `b1` fixture, and the `b5` fixture's rows cycled to 64).
//! Before timing, tract's logits at batch 1 and 5 must match onnxruntime's
//! (1e-5 relative, 1e-6 absolute floor).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use staticflow_onnx_peers::{cycle_rows, read_npy, Plan};

fn check(model: &str, input: &str) {
    for b in ["b1", "b5"] {
        let (shape, x) = read_npy(&format!("{model}.{b}.{input}.npy"));
        let (_, want) = read_npy(&format!("{model}.{b}.logits.npy"));
        let got = Plan::new(&format!("{model}.onnx"), &shape, &x).logits();
        assert_eq!(got.len(), want.len(), "{model} {b}");
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - w).abs() <= 1e-5 * w.abs() + 1e-6,
                "{model} {b}: {g} against {w}"
            );
        }
    }
}

fn rows(c: &mut Criterion, model: &str, input: &str) {
    check(model, input);
    for batch in [1, 64] {
        let (mut shape, x) = if batch == 1 {
            read_npy(&format!("{model}.b1.{input}.npy"))
        } else {
            let (shape, five) = read_npy(&format!("{model}.b5.{input}.npy"));
            (shape, cycle_rows(&five, 5, 64))
        };
        shape[0] = batch;
        let mut plan = Plan::new(&format!("{model}.onnx"), &shape, &x);
        let mut group = c.benchmark_group(format!("onnx_{model}_batch{batch}"));
        group.bench_function("tract", |b| {
            b.iter(|| black_box(plan.run()));
        });
        group.finish();
    }
}

fn mlp(c: &mut Criterion) {
    rows(c, "mlp", "input");
}

fn lenet(c: &mut Criterion) {
    rows(c, "lenet", "image");
}

criterion_group!(benches, mlp, lenet);
criterion_main!(benches);
