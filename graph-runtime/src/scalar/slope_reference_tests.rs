//! Every `_slope` against JAX's fixture
//! (`tests/reference/fixtures/kernels/slopes.json`) on the finite inputs.
//!
//! A unit test, so that `cargo test -p graph-runtime --no-default-features
//! --lib` runs it on `libm`'s `expf`, `exp` and `pow` (the integration test
//! `graph-runtime/tests/slopes.rs`, which also checks NaN, the infinities
//! and finite differences, needs `std`, so `std`'s math). As in
//! `flat/reference_tests.rs`, the fixture is compiled in with `include_str!`
//! and read without an allocator or a JSON library:
//! `tests/reference/slopes.py` puts one case per line, and its tensors are
//! flat lists of numbers or `"nan"`/`"inf"`/`"-inf"`.

use super::{
    abs_slope, clip_slope, elu_slope, exp_slope, gelu_exact_slope, gelu_tanh_slope,
    hard_sigmoid_slope, leaky_relu_slope, log_slope, neg_slope, pow_slope, relu_slope,
    sigmoid_slope, silu_slope, softplus_slope, sqrt_slope, square_slope, tanh_slope,
};

const FIXTURE: &str = include_str!("../../../tests/reference/fixtures/kernels/slopes.json");

/// The most inputs a case has.
const MAX: usize = 128;

/// As in `graph-runtime/tests/slopes.rs`, which justifies them:
/// `(relative, absolute)`.
const EXACT: (f64, f64) = (0.0, 0.0);
const ROUNDED: (f64, f64) = (1.2e-7, 1.5e-45);
const FEW_ROUNDINGS: (f64, f64) = (4.8e-7, 1.2e-44);

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

/// The values of the one-axis tensor `key`, and how many there are.
fn tensor(line: &str, key: &str) -> ([f32; MAX], usize) {
    let data = after(after(line, key), "data");
    let list = &data[1..data.find(']').expect("end of data")];
    let mut values = [0.0; MAX];
    let mut count = 0;
    for text in list.split(',') {
        values[count] = number(text);
        count += 1;
    }
    (values, count)
}

#[test]
fn fixture_slopes_on_finite_inputs() {
    let mut cases = 0;
    let mut compared = 0;
    for line in FIXTURE.lines().filter(|line| line.contains("\"op\":")) {
        let op = after(line, "op");
        let op = &op[1..=op[1..].find('"').expect("op name")];
        let parameter =
            |key: &str| number(after(line, key).split([',', '}']).next().expect("value"));
        let (x, count) = tensor(line, "x");
        let (expected, slopes) = tensor(line, "out");
        assert_eq!(count, slopes, "{op}: as many slopes as inputs");
        cases += 1;
        for (&x, &expected) in x[..count].iter().zip(&expected[..count]) {
            if !x.is_finite() {
                continue;
            }
            let (actual, (rel, abs)) = match op {
                "neg_slope" => (neg_slope(x), EXACT),
                "abs_slope" => (abs_slope(x), EXACT),
                "square_slope" => (square_slope(x), EXACT),
                "relu_slope" => (relu_slope(x), EXACT),
                "leaky_relu_slope" => (leaky_relu_slope(x, parameter("alpha")), EXACT),
                "clip_slope" => (clip_slope(x, parameter("lo"), parameter("hi")), EXACT),
                "hard_sigmoid_slope" => (
                    hard_sigmoid_slope(x, parameter("alpha"), parameter("beta")),
                    EXACT,
                ),
                "log_slope" => (log_slope(x), ROUNDED),
                "pow_slope" => (pow_slope(x, parameter("p")), ROUNDED),
                "silu_slope" => (silu_slope(x), ROUNDED),
                "gelu_tanh_slope" => (gelu_tanh_slope(x), ROUNDED),
                "gelu_exact_slope" => (gelu_exact_slope(x), ROUNDED),
                "exp_slope" => (exp_slope(x), FEW_ROUNDINGS),
                "sqrt_slope" => (sqrt_slope(x), FEW_ROUNDINGS),
                "sigmoid_slope" => (sigmoid_slope(x), FEW_ROUNDINGS),
                "tanh_slope" => (tanh_slope(x), FEW_ROUNDINGS),
                "softplus_slope" => (softplus_slope(x), FEW_ROUNDINGS),
                "elu_slope" => (elu_slope(x, parameter("alpha")), FEW_ROUNDINGS),
                other => panic!("unexpected op {other}"),
            };
            let (a, e) = (f64::from(actual), f64::from(expected));
            let ok = if e.is_nan() {
                a.is_nan()
            } else if e.is_infinite() {
                a == e
            } else {
                (a - e).abs() <= abs + rel * e.abs()
            };
            assert!(ok, "{op} at {x:e}: got {a:e}, expected {e:e}");
            compared += 1;
        }
    }
    assert_eq!(cases, 37);
    assert!(compared > 37 * 100, "{compared} slopes compared");
}
