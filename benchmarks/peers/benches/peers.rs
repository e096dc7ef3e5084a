//! The rows of staticflow's benchmark suite with candle, tract and burn.
//!
//! IDs match the main suite's (`<row>/<implementation>`), so
//! `benches/report.py` at the repository root can read both result
//! directories. The thread count comes from `RAYON_NUM_THREADS`, which must
//! be set: candle and burn's backends size their matrix-product parallelism
//! from rayon, burn 0.22's ndarray backend (matrixmultiply) gets it as
//! `MATMUL_NUM_THREADS`, and tract gets an executor of that many threads.
//! With 1 every row runs and IDs are the library's name; with 2 only the
//! batch-64 and batch-256 rows run, with IDs suffixed `_2t`.
//!
//! Each implementation is checked against an `f64` reference computed from
//! the same data (max abs difference below 1e-4) before its row is measured.
//!
//! The training rows (`train_*`, as in `benches/training.rs`) time one SGD
//! step each: forward, backward and update. Before they are measured, every
//! library takes one step from the data's weights and must agree with an
//! `f64` reference step on the loss and on every updated parameter.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use staticflow_peers::data::{labels, MlpData, SeedData};
use staticflow_peers::tract::Plan;
use staticflow_peers::{burn, burn_train, candle, dfdx, Peer, Trainer, LR};
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

/// Largest absolute difference of `values` from `reference`.
fn max_error(values: &[f32], reference: &[f32]) -> f32 {
    values
        .iter()
        .zip(reference)
        .fold(0.0_f32, |max, (a, e)| max.max((a - e).abs()))
}

/// Checks that one step of each candidate agrees with the `f64` reference
/// step on `data`, then measures each candidate's step.
fn training_row(
    c: &mut Criterion,
    name: &str,
    data: &MlpData,
    candidates: Vec<(&str, Box<dyn Trainer>)>,
) {
    let suffix = if threads() == 1 { "" } else { "_2t" };
    let (loss, parameters) = data.reference_step(&labels(data.batch), f64::from(LR));
    #[allow(clippy::cast_possible_truncation)] // the f32 every library computes in
    let loss = loss as f32;
    let mut candidates = candidates;
    for (id, trainer) in &mut candidates {
        let before = trainer.parameters();
        assert_eq!(
            max_error(&before, &data.parameters()),
            0.0,
            "{name}/{id}: the initial parameters are the data's"
        );
        let step_loss = trainer.step();
        let after = trainer.parameters();
        assert_eq!(
            after.len(),
            parameters.len(),
            "{name}/{id}: parameter count"
        );
        let loss_error = (step_loss - loss).abs();
        let error = max_error(&after, &parameters);
        assert!(
            loss_error <= TOLERANCE && error <= TOLERANCE,
            "{name}/{id}: the loss {step_loss} is {loss_error:e} from the f64 reference's {loss}, \
             the updated parameters up to {error:e}; the bound is {TOLERANCE:e}"
        );
        // The update itself is small (lr·grad), so the change of every
        // parameter is also checked against the reference's, relative to the
        // largest change: a step that left the parameters alone fails here.
        let initial = data.parameters();
        let change = |values: &[f32]| -> Vec<f32> {
            values.iter().zip(&initial).map(|(v, p)| v - p).collect()
        };
        let reference_change = change(&parameters);
        let largest = max_error(&reference_change, &vec![0.0; initial.len()]);
        let change_error = max_error(&change(&after), &reference_change);
        assert!(
            change_error <= 1e-2 * largest,
            "{name}/{id}: the parameters' change is {change_error:e} from the reference's, \
             whose largest is {largest:e}"
        );
        eprintln!(
            "{name}/{id}{suffix}: one step agrees with the f64 reference \
             (loss {step_loss}, off by {loss_error:e}; parameters off by up to {error:e}, \
             their change by {change_error:e} of up to {largest:e})"
        );
    }
    let mut group = c.benchmark_group(name);
    for (id, trainer) in &mut candidates {
        group.bench_function(format!("{id}{suffix}"), |bencher| {
            bencher.iter(|| black_box(trainer.step()));
        });
    }
    group.finish();
}

fn training(c: &mut Criterion) {
    for (widths, batch) in [
        (&[784, 128, 10][..], 1),
        (&[784, 128, 10][..], 64),
        (&[64, 256, 256, 10][..], 256),
    ] {
        if batch == 1 && threads() > 1 {
            continue;
        }
        let name = format!(
            "train_mlp_{}_batch{batch}",
            widths
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("_")
        );
        let data = MlpData::new(widths, batch);
        let dfdx: Box<dyn Trainer> = if widths.len() == 3 {
            Box::new(dfdx::Train784x128x10::new(&data))
        } else {
            Box::new(dfdx::Train64x256x256x10::new(&data))
        };
        let candidates: Vec<(&str, Box<dyn Trainer>)> = vec![
            ("candle", Box::new(candle::Train::new(&data))),
            ("burn_flex", Box::new(burn_train::flex::Train::new(&data))),
            (
                "burn_ndarray",
                Box::new(burn_train::ndarray::Train::new(&data)),
            ),
            ("dfdx", dfdx),
        ];
        training_row(c, &name, &data, candidates);
    }
}

fn configure() -> Criterion {
    let threads = threads();
    // burn 0.22's ndarray backend multiplies with matrixmultiply, whose
    // threads come from this variable (default: the physical cores).
    if std::env::var_os("MATMUL_NUM_THREADS").is_none() {
        std::env::set_var("MATMUL_NUM_THREADS", threads.to_string());
    }
    if threads > 1 {
        set_default_executor(Executor::multithread(threads));
    }
    Criterion::default()
}

criterion_group! {
    name = benches;
    config = configure();
    targets = seed, mlp, training
}
criterion_main!(benches);
