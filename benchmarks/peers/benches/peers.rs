//! The rows of staticflow's benchmark suite with candle, tract and burn.
//!
//! IDs match the main suite's (`<row>/<implementation>`), so
//! `benches/report.py` at the repository root can read both result
//! directories. The thread count comes from `RAYON_NUM_THREADS`, which must
//! be set: candle and burn's Flex backend size their matrix-product
//! parallelism from rayon, and tract gets an executor of that many threads.
//! With 1 every row runs and IDs are the library's name; with 2 only the
//! batch-64 and batch-256 rows run, with IDs suffixed `_2t`.
//!
//! Each implementation is checked against an `f64` reference computed from
//! the same data (max abs difference below 1e-4) before its row is measured.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use staticflow_peers::data::{MlpData, SeedData};
use staticflow_peers::tract::Plan;
use staticflow_peers::{burn, candle, Peer};
use tract_linalg::multithread::{set_default_executor, Executor};

/// Largest absolute difference allowed from the `f64` reference.
const TOLERANCE: f32 = 1e-4;

fn threads() -> usize {
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|value| value.parse().ok())
        .expect("set RAYON_NUM_THREADS to 1 or 2: see the crate's README.md");
    assert!(
        matches!(threads, 1 | 2),
        "RAYON_NUM_THREADS is {threads}, not 1 or 2"
    );
    threads
}

/// Checks every candidate against `reference`, then measures each.
fn row(c: &mut Criterion, name: &str, reference: &[f32], candidates: Vec<(&str, Box<dyn Peer>)>) {
    let suffix = if threads() == 1 { "" } else { "_2t" };
    let mut candidates = candidates;
    for (id, peer) in &mut candidates {
        peer.run();
        let output = peer.output();
        assert_eq!(output.len(), reference.len(), "{name}/{id}: output size");
        let error = output
            .iter()
            .zip(reference)
            .fold(0.0_f32, |max, (a, e)| max.max((a - e).abs()));
        assert!(
            error < TOLERANCE,
            "{name}/{id}: max abs difference from the f64 reference {error:e} is not below {TOLERANCE:e}"
        );
        eprintln!(
            "{name}/{id}{suffix}: agrees with the f64 reference (max abs difference {error:e})"
        );
    }
    let mut group = c.benchmark_group(name);
    for (id, peer) in &mut candidates {
        group.bench_function(format!("{id}{suffix}"), |bencher| {
            bencher.iter(|| black_box(&mut **peer).run());
        });
    }
    group.finish();
}

fn seed(c: &mut Criterion) {
    if threads() > 1 {
        return;
    }
    for (name, len, scalar) in [("seed_scalar", 1, true), ("seed_1x1000", 1000, false)] {
        let data = SeedData::new(len);
        let reference = data.reference();
        let candidates: Vec<(&str, Box<dyn Peer>)> = vec![
            ("candle", Box::new(candle::Seed::new(&data, scalar))),
            ("tract", Box::new(Plan::seed(&data, scalar))),
            ("burn_flex", Box::new(burn::Seed::new(&data, scalar))),
        ];
        row(c, name, &reference[..len], candidates);
    }
}

fn mlp(c: &mut Criterion) {
    let rows: [(&[usize], usize); 4] = [
        (&[784, 128, 10], 1),
        (&[784, 128, 10], 64),
        (&[64, 256, 256, 10], 1),
        (&[64, 256, 256, 10], 256),
    ];
    for (widths, batch) in rows {
        if batch == 1 && threads() > 1 {
            continue;
        }
        let name = format!(
            "mlp_{}_batch{batch}",
            widths
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("_")
        );
        let data = MlpData::new(widths, batch);
        let candidates: Vec<(&str, Box<dyn Peer>)> = vec![
            ("candle", Box::new(candle::Mlp::new(&data))),
            ("tract", Box::new(Plan::mlp(&data))),
            ("burn_flex", Box::new(burn::Mlp::new(&data))),
        ];
        row(c, &name, &data.reference(), candidates);
    }
}

fn configure() -> Criterion {
    let threads = threads();
    if threads > 1 {
        set_default_executor(Executor::multithread(threads));
    }
    Criterion::default()
}

criterion_group! {
    name = benches;
    config = configure();
    targets = seed, mlp
}
criterion_main!(benches);
