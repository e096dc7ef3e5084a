//! The benchmark suite of issue 7: each row is one model, measured in the same
//! run against every implementation in `baselines/`.
//!
//! Benchmark IDs are `<row>/<implementation>`: one criterion group per row
//! (`seed_scalar`, `seed_1x1000`, `mlp_784_128_10_batch1`, ...) and one
//! function per implementation (`staticflow`, `staticflow_owned`,
//! `ndarray_naive`, `ndarray_tuned`, `avx2_fma`, `interpreted`, `plain_f32`), so
//! `target/criterion/<row>/<implementation>/new/estimates.json` holds each
//! result and `benches/report.py` turns them into a table.
//!
//! `staticflow` is the workspace form of the generated methods (`*_with`, no
//! allocation per call), `staticflow_owned` the allocating convenience form;
//! see `baselines/compiled.rs`.
//!
//! Before a row is measured, every implementation is run on the row's data
//! and compared with staticflow (max abs difference below [`TOLERANCE`]), so
//! no row times a wrong computation. `cargo bench --bench graphs -- --test`
//! runs those checks and each benchmark once, without measuring.
//!
//! With `--features parallel`, the batched MLP rows also measure
//! `staticflow_2t`: the workspace form allowed two threads
//! (`staticflow::threads::set_threads(2)`), to set beside the peers' `_2t`
//! IDs.

mod baselines;

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use staticflow::ndarray::Array2;

use baselines::compiled;
use baselines::data::{MlpData, SeedData};
use baselines::{avx2, interpreted, naive, plain, tuned, Mlp, ScalarSeed, VectorSeed};

/// Largest absolute difference allowed between any implementation's output
/// and staticflow's.
const TOLERANCE: f32 = 1e-4;

/// The length of the vector seed row's operands.
const SEED_LEN: usize = 1000;

fn seed_scalar(c: &mut Criterion) {
    let data = SeedData::new(1);
    let (a, b) = (data.a[[0, 0]], data.b[[0, 0]]);
    let (mut staticflow, mut owned) = compiled::seed_scalar();
    let mut plain = plain::Seed::new(&data);
    let mut interpreted = interpreted::Seed::new(None);
    let expected = staticflow.res(a, b);
    let outputs = [
        ("staticflow_owned", ScalarSeed::res(&mut owned, a, b)),
        ("plain_f32", ScalarSeed::res(&mut plain, a, b)),
        ("interpreted", ScalarSeed::res(&mut interpreted, a, b)),
    ];
    let expected = Array2::from_elem((1, 1), expected);
    for (id, actual) in outputs {
        let error = assert_close(
            "seed_scalar",
            id,
            &Array2::from_elem((1, 1), actual),
            &expected,
        );
        eprintln!("seed_scalar/{id}: agrees with staticflow (abs difference {error:e})");
    }

    let mut group = c.benchmark_group("seed_scalar");
    scalar(&mut group, "staticflow", &mut staticflow, a, b);
    scalar(&mut group, "staticflow_owned", &mut owned, a, b);
    scalar(&mut group, "plain_f32", &mut plain, a, b);
    scalar(&mut group, "interpreted", &mut interpreted, a, b);
    group.finish();
}

/// Measures one scalar implementation, statically dispatched: at a few
/// nanoseconds per call, a virtual call would be a visible share.
fn scalar(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    imp: &mut impl ScalarSeed,
    a: f32,
    b: f32,
) {
    group.bench_function(id, |bencher| {
        bencher.iter(|| ScalarSeed::res(imp, black_box(a), black_box(b)));
    });
}

fn seed_vector(c: &mut Criterion) {
    let row = "seed_1x1000";
    let data = SeedData::new(SEED_LEN);
    let (staticflow, owned) = compiled::seed_vector(&data);
    let mut candidates: Vec<(&str, Box<dyn VectorSeed>)> = vec![
        ("staticflow", Box::new(staticflow)),
        ("staticflow_owned", Box::new(owned)),
        ("ndarray_naive", Box::new(naive::Seed::new(&data))),
        ("ndarray_tuned", Box::new(tuned::Seed::new(&data))),
        ("plain_f32", Box::new(plain::Seed::new(&data))),
        ("interpreted", Box::new(interpreted::Seed::new(Some(&data)))),
    ];
    match avx2::Seed::new(&data) {
        Some(imp) => candidates.insert(4, ("avx2_fma", Box::new(imp))),
        None => skip_avx2(row),
    }
    let (a, b) = (data.a.view(), data.b.view());
    // A first call on other data, so that an implementation that leaves
    // stale state in its buffers fails the check.
    let (other_a, other_b) = (&data.b + 1.0, &data.a * 2.0);
    check(row, &mut candidates, |imp| {
        imp.res(other_a.view(), other_b.view());
        imp.res(a, b).to_owned()
    });

    let mut group = c.benchmark_group(row);
    for (id, imp) in &mut candidates {
        group.bench_function(*id, |bencher| {
            bencher.iter(|| {
                black_box(imp.res(black_box(a), black_box(b)));
            });
        });
    }
    group.finish();
}

/// Staticflow's two adapters for one MLP row: workspace form, allocating form.
type StaticflowPair = (Box<dyn Mlp>, Box<dyn Mlp>);

/// One MLP row: `widths` of the layers, at `batch`, with staticflow's
/// adapters built by `staticflow`.
fn mlp_row(
    c: &mut Criterion,
    widths: &[usize],
    batch: usize,
    staticflow: fn(&MlpData) -> StaticflowPair,
) {
    let row = format!(
        "mlp_{}_batch{batch}",
        widths
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("_")
    );
    let data = MlpData::new(widths, batch);
    let (workspace_form, owned_form) = staticflow(&data);
    let mut candidates: Vec<(&str, Box<dyn Mlp>)> = vec![
        ("staticflow", workspace_form),
        ("staticflow_owned", owned_form),
        ("ndarray_naive", Box::new(naive::Mlp::new(&data))),
        ("ndarray_tuned", Box::new(tuned::Mlp::new(&data))),
        ("interpreted", Box::new(interpreted::Mlp::new(&data))),
    ];
    match avx2::Mlp::new(&data) {
        Some(imp) => candidates.insert(4, ("avx2_fma", Box::new(imp))),
        None => skip_avx2(&row),
    }
    // With `--features parallel`: the batched rows once more with two
    // threads, as the peers' `_2t` IDs.
    #[cfg(feature = "parallel")]
    if batch > 1 {
        let threads = compiled::Threads {
            inner: staticflow(&data).0,
            threads: 2,
        };
        candidates.push(("staticflow_2t", Box::new(threads)));
    }
    let x = data.x.view();
    let other_x = data.x.mapv(|v| 1.0 - v);
    check(&row, &mut candidates, |imp| {
        imp.logits(other_x.view());
        imp.logits(x).to_owned()
    });

    let mut group = c.benchmark_group(&row);
    for (id, imp) in &mut candidates {
        group.bench_function(*id, |bencher| {
            bencher.iter(|| {
                black_box(imp.logits(black_box(x)));
            });
        });
    }
    group.finish();
}

fn mlp_784(c: &mut Criterion) {
    for batch in [1, 64] {
        mlp_row(c, &[784, 128, 10], batch, |data| {
            let (workspace_form, owned_form) = compiled::mlp784(data);
            (Box::new(workspace_form), Box::new(owned_form))
        });
    }
}

fn mlp_64(c: &mut Criterion) {
    for batch in [1, 256] {
        mlp_row(c, &[64, 256, 256, 10], batch, |data| {
            let (workspace_form, owned_form) = compiled::mlp64(data);
            (Box::new(workspace_form), Box::new(owned_form))
        });
    }
}

/// Runs `output` on every candidate and compares each result with the first
/// candidate's (staticflow's).
fn check<T: ?Sized>(
    row: &str,
    candidates: &mut [(&str, Box<T>)],
    mut output: impl FnMut(&mut T) -> Array2<f32>,
) {
    let (reference, others) = candidates.split_first_mut().expect("a row has staticflow");
    let expected = output(&mut *reference.1);
    let worst = others
        .iter_mut()
        .map(|(id, imp)| assert_close(row, id, &output(&mut **imp), &expected))
        .fold(0.0_f32, f32::max);
    eprintln!("{row}: every implementation agrees with staticflow (max abs difference {worst:e})");
}

/// The max abs difference between `actual` and `expected`.
///
/// # Panics
/// If the shapes differ, or the difference is not below [`TOLERANCE`].
fn assert_close(row: &str, id: &str, actual: &Array2<f32>, expected: &Array2<f32>) -> f32 {
    assert_eq!(
        actual.dim(),
        expected.dim(),
        "{row}/{id}: output shape differs from staticflow's"
    );
    let error = actual
        .iter()
        .zip(expected)
        .fold(0.0_f32, |max, (a, e)| max.max((a - e).abs()));
    // `!(error < TOLERANCE)` also catches NaN.
    assert!(
        error < TOLERANCE,
        "{row}/{id}: max abs difference from staticflow {error:e} is not below {TOLERANCE:e}"
    );
    error
}

fn skip_avx2(row: &str) {
    eprintln!("{row}/avx2_fma: skipped, this CPU lacks AVX2 or FMA");
}

criterion_group!(benches, seed_scalar, seed_vector, mlp_784, mlp_64);
criterion_main!(benches);
