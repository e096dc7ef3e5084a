//! `silu`, `elu` and `hard_sigmoid` against numpy's fixture
//! (`tests/reference/fixtures/kernels/activations.json`) through what
//! `#[no_std]` graphs call: the scalar functions, `Activation::apply`,
//! [`map`](super::map) and [`dense`](super::dense).
//!
//! Unit tests, so that `cargo test -p graph-runtime --no-default-features
//! --lib` runs them on `libm`'s `exp` and `expm1` (the integration tests in
//! `graph-runtime/tests/activations.rs` need `std`, so `std`'s math). The
//! fixture is compiled in with `include_str!` and read without an allocator
//! or a JSON library: `tests/reference/activations.py` (with the writer of
//! `kernels.py`) puts one case per line, and its tensors are flat lists of
//! numbers or `"nan"`/`"inf"`/`"-inf"`.

use super::{dense, map, Index};
use crate::scalar::{self, Activation};

const FIXTURE: &str = include_str!("../../../tests/reference/fixtures/kernels/activations.json");

/// The fixture's input matrix: 9 rows of 19 columns, odd sizes, so the
/// loops the compiler vectorises have tails.
const M: usize = 9;
const N: usize = 19;

/// As `SMOOTH` in `graph-runtime/tests/activations.rs`: two units in the last
/// place at the bottom of a binade, plus an absolute floor for `silu`'s
/// subnormal results.
const SMOOTH: (f64, f64) = (2.4e-7, 1e-43);
/// As `AFFINE` there: `α·x + β` cancels near the lower kink.
const AFFINE: (f64, f64) = (2.4e-7, 6e-8);

/// The text after `"key":` in `line`.
fn after<'a>(line: &'a str, key: &str) -> &'a str {
    let mut rest = line;
    loop {
        let at = rest.find(key).expect("key in case");
        let tail = &rest[at + key.len()..];
        if rest[..at].ends_with('"') && tail.starts_with("\":") {
            return &tail[2..];
        }
        rest = tail;
    }
}

/// One fixture number, stored as the exact value of an f32.
#[allow(clippy::cast_possible_truncation)] // Exact by construction.
fn number(text: &str) -> f32 {
    match text.trim_matches('"') {
        "nan" => f32::NAN,
        "inf" => f32::INFINITY,
        "-inf" => f32::NEG_INFINITY,
        digits => digits.parse::<f64>().expect("a number") as f32,
    }
}

/// The `M·N` values of tensor `key`.
fn tensor(line: &str, key: &str) -> [f32; M * N] {
    let shape = after(after(line, key), "shape");
    assert!(shape.starts_with("[9,19]"), "a 9 × 19 tensor");
    let data = after(shape, "data");
    let list = &data[1..data.find(']').expect("end of data")];
    let mut values = [0.0; M * N];
    let mut count = 0;
    for (value, text) in values.iter_mut().zip(list.split(',')) {
        *value = number(text);
        count += 1;
    }
    assert_eq!(count, M * N);
    values
}

/// `actual` within `(rel, abs)` of `expected`, NaN matching NaN.
fn check(context: &str, actual: &[f32], expected: &[f32], (rel, abs): (f64, f64)) {
    assert_eq!(actual.len(), expected.len());
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let (a, e) = (f64::from(a), f64::from(e));
        let ok = if e.is_nan() {
            a.is_nan()
        } else if e.is_infinite() {
            a == e
        } else {
            (a - e).abs() <= abs + rel * e.abs()
        };
        assert!(ok, "{context} at {i}: got {a:e}, expected {e:e}");
    }
}

#[test]
fn fixture_activations_on_the_no_std_paths() {
    let mut identity = [0.0_f32; N * N];
    for i in 0..N {
        identity[i * N + i] = 1.0;
    }
    let zeros = [0.0_f32; N];
    let mut checked = [0_usize; 3];
    for line in FIXTURE.lines().filter(|line| line.contains("\"op\":")) {
        let op = after(line, "op");
        let op = &op[1..=op[1..].find('"').expect("op name")];
        let parameter =
            |key: &str| number(after(line, key).split([',', '}']).next().expect("value"));
        let (activation, tolerance, slot) = match op {
            "silu" => (Activation::Silu, SMOOTH, 0),
            "elu" => (Activation::Elu(parameter("alpha")), SMOOTH, 1),
            "hard_sigmoid" => (
                Activation::HardSigmoid(parameter("alpha"), parameter("beta")),
                AFFINE,
                2,
            ),
            other => panic!("unexpected op {other}"),
        };
        checked[slot] += 1;
        let f = |v| match activation {
            Activation::Silu => scalar::silu(v),
            Activation::Elu(alpha) => scalar::elu(v, alpha),
            Activation::HardSigmoid(alpha, beta) => scalar::hard_sigmoid(v, alpha, beta),
            _ => unreachable!("only the fixture's activations"),
        };
        let x = tensor(line, "x");
        let expected = tensor(line, "out");
        let mut out = [f32::NAN; M * N];

        for (i, o) in out.iter_mut().enumerate() {
            *o = f(x[i]);
        }
        check(op, &out, &expected, tolerance);
        for (i, o) in out.iter_mut().enumerate() {
            *o = activation.apply(x[i]);
        }
        check(op, &out, &expected, tolerance);

        out = [f32::NAN; M * N];
        map([(&x[..], Index::Same)], &[M, N], &mut out, |[v]| f(v));
        check(op, &out, &expected, tolerance);

        for bias in [None, Some(&zeros[..])] {
            out = [f32::NAN; M * N];
            dense(&x, &identity, bias, (M, N, N), f, &mut out);
            check(op, &out, &expected, tolerance);
            out = [f32::NAN; M * N];
            dense(
                &x,
                &identity,
                bias,
                (M, N, N),
                |v| activation.apply(v),
                &mut out,
            );
            check(op, &out, &expected, tolerance);
        }
    }
    assert_eq!(checked, [1, 3, 5], "silu, elu and hard_sigmoid cases");
}
