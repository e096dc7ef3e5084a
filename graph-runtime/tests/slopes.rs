//! The derivatives `scalar::*_slope` checked two independent ways:
//!
//! - against JAX (`fixtures/kernels/slopes.json`, written by
//!   `tests/reference/slopes.py`: `jax.grad` in float64, rounded once to
//!   f32), on a grid with kinks, both zeros, subnormal to huge magnitudes,
//!   NaN and the infinities, for several parameter values; where the slopes
//!   deliberately differ from JAX (NaN inputs of piecewise functions, the
//!   infinities of `silu` and the GELUs) the test lists JAX's value and ours;
//! - against central finite differences of the forward `scalar` function,
//!   in f64 arithmetic on its f32 values, wherever the forward function is
//!   smooth across the difference's interval.
//!
//! Then the values `docs/NUMERICS.md` states, by hand.

mod common;

use common::{assert_close_scalar, assert_ops_covered, cases, Case, Tolerance};
use graph_runtime::scalar;

/// Slopes that are a constant, a parameter, `2x`, or a product of `0.5`s:
/// JAX's float64 value rounds to exactly the same f32.
const EXACT: Tolerance = Tolerance { rel: 0.0, abs: 0.0 };

/// Slopes rounded once from an exact or `f64` value: `log_slope` (one f32
/// division) and the slopes evaluated in `f64` (`pow`, `silu`, the GELUs).
///
/// Each is within half an ulp (plus `f64` error, some 1e-15 relative) of
/// the exact slope, as is the reference, so they differ by at most one ulp:
/// `2⁻²³·|expected|` relative, or one subnormal step (`2⁻¹⁴⁹`) below
/// `f32::MIN_POSITIVE`.
const ROUNDED: Tolerance = Tolerance {
    rel: 1.2e-7,
    abs: 1.5e-45,
};

/// Slopes computed in f32 from an `expf` and a few roundings:
/// `exp_slope` (the math library's `expf`), `sqrt_slope` (a square root and
/// a division), `sigmoid_slope`, `tanh_slope` (`e / (1 + e)²`, times 4),
/// `softplus_slope` (the forward `sigmoid`) and `elu_slope` (`α·eˣ`).
///
/// `expf` is within one ulp (`std`'s platform library and `libm` both),
/// the arithmetic after it adds at most four half-ulp errors (`1 + e`
/// counts twice, squared), and the reference half an ulp more: three and
/// a half ulps, within `4·2⁻²³` relative (4.8e-7; the largest seen is 1.9
/// ulps). Below `f32::MIN_POSITIVE` the slopes of large `|x|`
/// are subnormal: `e` is off by one subnormal step, times 4 in `tanh_slope`,
/// so the absolute floor is eight steps (`8·2⁻¹⁴⁹ ≈ 1.1e-44`).
const FEW_ROUNDINGS: Tolerance = Tolerance {
    rel: 4.8e-7,
    abs: 1.2e-44,
};

/// Every op of the fixture.
const OPS: [&str; 18] = [
    "neg_slope",
    "abs_slope",
    "exp_slope",
    "log_slope",
    "sqrt_slope",
    "square_slope",
    "pow_slope",
    "relu_slope",
    "leaky_relu_slope",
    "sigmoid_slope",
    "tanh_slope",
    "gelu_tanh_slope",
    "gelu_exact_slope",
    "softplus_slope",
    "silu_slope",
    "elu_slope",
    "hard_sigmoid_slope",
    "clip_slope",
];

/// A function of one element with its parameters bound.
type Function = Box<dyn Fn(f32) -> f32>;

/// One fixture case: the slope under test, the forward function it is the
/// derivative of, and where that forward function is not smooth.
struct Derivative {
    label: String,
    op: String,
    slope: Function,
    forward: Function,
    tolerance: Tolerance,
    /// Kinks and poles of `forward`, which a finite difference must not
    /// straddle.
    kinks: Vec<f64>,
    /// Whether `forward` is real only for `x > 0`.
    positive_only: bool,
    /// Whether `forward` is `log`, `sqrt` or `pow`, whose derivatives
    /// change on the scale of `|x|` (see [`step`]).
    singular_at_zero: bool,
    /// The `alpha` parameter, for JAX's value of `leaky_relu_slope(NaN)`.
    alpha: Option<f32>,
    x: Vec<f32>,
    expected: Vec<f32>,
}

fn plain(
    case: &Case,
    slope: fn(f32) -> f32,
    forward: fn(f32) -> f32,
    tolerance: Tolerance,
) -> Derivative {
    Derivative {
        label: case.label(),
        op: case.text("op").to_owned(),
        slope: Box::new(slope),
        forward: Box::new(forward),
        tolerance,
        kinks: Vec::new(),
        positive_only: false,
        singular_at_zero: false,
        alpha: None,
        x: case.f32s("x").iter().copied().collect(),
        expected: case.f32s("out").iter().copied().collect(),
    }
}

/// The case as a [`Derivative`], by its op.
fn bind(case: &Case) -> Derivative {
    let op = case.text("op");
    let parameter = |key: &str| case.scalar(key);
    match op {
        "neg_slope" => plain(case, scalar::neg_slope, scalar::neg, EXACT),
        "abs_slope" => Derivative {
            kinks: vec![0.0],
            ..plain(case, scalar::abs_slope, scalar::abs, EXACT)
        },
        "exp_slope" => plain(case, scalar::exp_slope, scalar::exp, FEW_ROUNDINGS),
        "log_slope" => Derivative {
            positive_only: true,
            singular_at_zero: true,
            ..plain(case, scalar::log_slope, scalar::log, ROUNDED)
        },
        "sqrt_slope" => Derivative {
            positive_only: true,
            singular_at_zero: true,
            ..plain(case, scalar::sqrt_slope, scalar::sqrt, FEW_ROUNDINGS)
        },
        "square_slope" => plain(case, scalar::square_slope, scalar::square, EXACT),
        "pow_slope" => {
            let p = parameter("p");
            let integer = p == p.trunc();
            Derivative {
                slope: Box::new(move |x| scalar::pow_slope(x, p)),
                forward: Box::new(move |x| scalar::pow(x, p)),
                // x^p for negative integer p has a pole at 0; for other
                // non-integer p it is real only for x > 0.
                kinks: if integer && p < 0.0 {
                    vec![0.0]
                } else {
                    Vec::new()
                },
                positive_only: !integer,
                singular_at_zero: true,
                ..plain(case, scalar::neg_slope, scalar::neg, ROUNDED)
            }
        }
        "relu_slope" => Derivative {
            kinks: vec![0.0],
            ..plain(case, scalar::relu_slope, scalar::relu, EXACT)
        },
        "leaky_relu_slope" => {
            let alpha = parameter("alpha");
            Derivative {
                slope: Box::new(move |x| scalar::leaky_relu_slope(x, alpha)),
                forward: Box::new(move |x| scalar::leaky_relu(x, alpha)),
                kinks: vec![0.0],
                alpha: Some(alpha),
                ..plain(case, scalar::neg_slope, scalar::neg, EXACT)
            }
        }
        "sigmoid_slope" => plain(case, scalar::sigmoid_slope, scalar::sigmoid, FEW_ROUNDINGS),
        "tanh_slope" => plain(case, scalar::tanh_slope, scalar::tanh, FEW_ROUNDINGS),
        "gelu_tanh_slope" => plain(case, scalar::gelu_tanh_slope, scalar::gelu_tanh, ROUNDED),
        "gelu_exact_slope" => plain(case, scalar::gelu_exact_slope, scalar::gelu_exact, ROUNDED),
        "softplus_slope" => plain(
            case,
            scalar::softplus_slope,
            scalar::softplus,
            FEW_ROUNDINGS,
        ),
        "silu_slope" => plain(case, scalar::silu_slope, scalar::silu, ROUNDED),
        "elu_slope" => {
            let alpha = parameter("alpha");
            Derivative {
                slope: Box::new(move |x| scalar::elu_slope(x, alpha)),
                forward: Box::new(move |x| scalar::elu(x, alpha)),
                kinks: vec![0.0],
                ..plain(case, scalar::neg_slope, scalar::neg, FEW_ROUNDINGS)
            }
        }
        "hard_sigmoid_slope" => {
            let (alpha, beta) = (parameter("alpha"), parameter("beta"));
            let (a, b) = (f64::from(alpha), f64::from(beta));
            Derivative {
                slope: Box::new(move |x| scalar::hard_sigmoid_slope(x, alpha, beta)),
                forward: Box::new(move |x| scalar::hard_sigmoid(x, alpha, beta)),
                kinks: vec![-b / a, (1.0 - b) / a],
                ..plain(case, scalar::neg_slope, scalar::neg, EXACT)
            }
        }
        "clip_slope" => {
            let (lo, hi) = (parameter("lo"), parameter("hi"));
            Derivative {
                slope: Box::new(move |x| scalar::clip_slope(x, lo, hi)),
                forward: Box::new(move |x| scalar::clip(x, lo, hi)),
                kinks: vec![f64::from(lo), f64::from(hi)],
                ..plain(case, scalar::neg_slope, scalar::neg, EXACT)
            }
        }
        other => panic!("unexpected op {other}"),
    }
}

fn slopes() -> Vec<Derivative> {
    OPS.iter()
        .flat_map(|&op| cases("slopes", op))
        .map(|case| bind(&case))
        .collect()
}

/// Where a slope deliberately differs from JAX: `(JAX's value, ours)`.
///
/// A NaN input gives NaN for every slope, where JAX's piecewise rules
/// select a branch (`x >= 0` and the like are false for NaN); `silu` and the
/// GELUs give their limits 1 and 0 at `±inf`, where JAX computes `0 · inf`.
fn deliberate_difference(slope: &Derivative, x: f32) -> Option<(f32, f32)> {
    let nan = f32::NAN;
    if x.is_nan() {
        let jax = match slope.op.as_str() {
            "neg_slope" | "abs_slope" => -1.0,
            "relu_slope" | "clip_slope" | "hard_sigmoid_slope" => 0.0,
            "leaky_relu_slope" => slope.alpha.expect("alpha"),
            _ => return None,
        };
        return Some((jax, nan));
    }
    if x.is_infinite()
        && ["silu_slope", "gelu_tanh_slope", "gelu_exact_slope"].contains(&&*slope.op)
    {
        return Some((nan, if x > 0.0 { 1.0 } else { 0.0 }));
    }
    None
}

/// Both NaN, or equal (`0 == -0`).
fn same(a: f32, b: f32) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

#[test]
fn every_fixture_op_is_tested() {
    assert_ops_covered("slopes", &OPS);
    let all = slopes();
    assert_eq!(
        all.len(),
        37,
        "13 plain cases, 8 powers, 3 leaky, 3 elu, 5 clip, 5 hard sigmoid"
    );
    // The grid holds both zeros, both infinities and NaN in every case.
    for slope in &all {
        let bits: Vec<u32> = slope.x.iter().map(|v| v.to_bits()).collect();
        for special in [0.0_f32, -0.0, f32::INFINITY, f32::NEG_INFINITY] {
            assert!(
                bits.contains(&special.to_bits()),
                "{}: {special}",
                slope.label
            );
        }
        assert!(slope.x.iter().any(|v| v.is_nan()), "{}: NaN", slope.label);
    }
}

#[test]
fn slopes_match_jax() {
    let mut differences = 0;
    for slope in slopes() {
        for (&x, &expected) in slope.x.iter().zip(&slope.expected) {
            let actual = (slope.slope)(x);
            let context = format!("{} at x = {x:e}", slope.label);
            if let Some((jax, ours)) = deliberate_difference(&slope, x) {
                assert!(
                    same(expected, jax),
                    "{context}: JAX gives {expected}, not {jax}"
                );
                assert!(
                    same(actual, ours),
                    "{context}: got {actual}, expected {ours}"
                );
                differences += 1;
            } else {
                let (actual, expected) = (f64::from(actual), f64::from(expected));
                assert_close_scalar(&context, actual, expected, slope.tolerance);
            }
        }
    }
    // NaN: neg, abs, relu, 3 leaky_relu, 5 clip and 5 hard_sigmoid cases;
    // ±inf: silu and the two GELUs.
    assert_eq!(differences, 16 + 6);
}

/// The step of the central difference at `x`: `2⁻¹⁰·max(1, |x|)`, or
/// `2⁻¹⁰·|x|` for the functions singular at 0 (`log`, `sqrt`, `pow`), capped
/// at `2⁻⁹`: small enough for the truncation error, yet at least 128 f32
/// steps of `x` on the checked range `|x| ≤ 200`, so the difference
/// resolves the function.
fn step(x: f32, relative: bool) -> f32 {
    let scale = if relative { x.abs() } else { x.abs().max(1.0) };
    (scale * 2.0_f32.powi(-10)).min(2.0_f32.powi(-9))
}

/// Forward values are within `U·|f|` of the exact function (four units of
/// `2⁻²³`; the forward functions' own fixture tests allow two ulps), or
/// within `A` where they are subnormal (`silu`'s results near -100).
const U: f64 = 4.8e-7;
const A: f64 = 1e-43;

/// `(f(x + h) − f(x − h)) / (2h)` computed in f64 from the f32 values of the
/// forward function, against the slope at `x`, wherever `[x − h, x + h]`
/// holds no kink and the forward function is finite and real:
///
/// `|difference − slope| ≤ 1e-3·|slope| + h² + (U·(|f(x+h)| + |f(x−h)|) + 2A) / 2h`.
///
/// The truncation error is `f‴(ξ)·h²/6`. Where `|f‴/f′| ≤ 6e-3/h²` (at
/// least 1500 here; the steepest function on the checked range, GELU's tanh
/// form near `x = -10`, has about 530) it is within `1e-3·|slope|`; the
/// `h²` term covers `|f‴| ≤ 6` where the slope itself vanishes (the minima
/// of `silu` and the GELUs). The last term is the rounding of the two forward
/// values, divided by the interval. The largest deviation seen is 14% of
/// this tolerance; a slope off by 1% (a constant of the GELU, the factor 4
/// of `tanh_slope`) fails it.
#[test]
fn slopes_match_finite_differences() {
    for slope in slopes() {
        let mut checked = 0;
        let mut sharp = 0;
        for &x in &slope.x {
            if !x.is_finite() || x.abs() > 200.0 {
                continue;
            }
            let h = step(x, slope.singular_at_zero);
            let (above, below) = (x + h, x - h);
            let (hi, lo) = (f64::from(above), f64::from(below));
            let margin = 1e-6 * (1.0 + f64::from(x.abs()));
            let straddles = slope
                .kinks
                .iter()
                .any(|&k| lo <= k + margin && k - margin <= hi);
            if h == 0.0 || straddles || (slope.positive_only && below <= 0.0) {
                continue;
            }
            let (f_above, f_below) = ((slope.forward)(above), (slope.forward)(below));
            let s = f64::from((slope.slope)(x));
            if !(f_above.is_finite() && f_below.is_finite() && s.is_finite()) {
                continue;
            }
            let (f_above, f_below) = (f64::from(f_above), f64::from(f_below));
            let width = hi - lo;
            let difference = (f_above - f_below) / width;
            let noise = (U * (f_above.abs() + f_below.abs()) + 2.0 * A) / width;
            let tolerance = 1e-3 * s.abs() + f64::from(h).powi(2) + noise;
            assert!(
                (difference - s).abs() <= tolerance,
                "{} at x = {x:e}: slope {s:e}, finite difference {difference:e} (tolerance {tolerance:e})",
                slope.label
            );
            checked += 1;
            if tolerance <= 1e-2 * s.abs() || (s == 0.0 && difference == 0.0) {
                sharp += 1;
            }
        }
        // Enough points per case, and enough where the check is sharp:
        // within 1% of the slope, or exactly 0 where the slope is.
        assert!(checked >= 40, "{}: {checked} points checked", slope.label);
        assert!(sharp >= 20, "{}: {sharp} sharp points", slope.label);
    }
}

// By hand: the table of docs/NUMERICS.md ----------------------------------

const NAN: f32 = f32::NAN;
const INF: f32 = f32::INFINITY;
const NEG: f32 = f32::NEG_INFINITY;

/// Whether `a` and `b` are the same value: both NaN, or equal with the same
/// sign (so `0` and `-0` differ).
fn identical(a: f32, b: f32) -> bool {
    (a.is_nan() && b.is_nan()) || (a == b && a.is_sign_negative() == b.is_sign_negative())
}

/// A slope and its name.
type Named = (&'static str, fn(f32) -> f32);

/// Asserts `f` at each input gives the value paired with it, exactly.
#[track_caller]
fn assert_table(name: &str, f: impl Fn(f32) -> f32, table: &[(f32, f32)]) {
    for &(x, expected) in table {
        let actual = f(x);
        assert!(
            identical(actual, expected),
            "{name}({x:?}): got {actual:?}, expected {expected:?}"
        );
    }
}

#[test]
fn kinks_take_jax_values() {
    assert_table(
        "relu_slope",
        scalar::relu_slope,
        &[(0.0, 0.0), (-0.0, 0.0), (1e-45, 1.0), (-1e-45, 0.0)],
    );
    assert_table(
        "abs_slope",
        scalar::abs_slope,
        &[(0.0, 1.0), (-0.0, 1.0), (-1e-45, -1.0)],
    );
    let leaky = |x| scalar::leaky_relu_slope(x, 0.25);
    assert_table(
        "leaky_relu_slope",
        leaky,
        &[(0.0, 1.0), (-0.0, 1.0), (-1e-45, 0.25)],
    );
    let elu = |x| scalar::elu_slope(x, 2.0);
    assert_table("elu_slope", elu, &[(0.0, 2.0), (-0.0, 2.0), (1e-45, 1.0)]);
    // ReLU6 as clip: a half at each bound, from jnp.clip's tied extrema.
    let relu6 = |x| scalar::clip_slope(x, 0.0, 6.0);
    assert_table(
        "clip_slope",
        relu6,
        &[
            (0.0, 0.5),
            (-0.0, 0.5),
            (6.0, 0.5),
            (3.0, 1.0),
            (6.5, 0.0),
            (-1.0, 0.0),
        ],
    );
    // One point: both ties, a quarter. Crossed bounds: the constant `hi`.
    assert_table(
        "clip_slope",
        |x| scalar::clip_slope(x, 1.0, 1.0),
        &[(1.0, 0.25), (0.0, 0.0), (2.0, 0.0)],
    );
    assert_table(
        "clip_slope",
        |x| scalar::clip_slope(x, 2.0, -1.0),
        &[(-1.0, 0.0), (0.5, 0.0), (2.0, 0.0), (3.0, 0.0)],
    );
    // PyTorch's Hardsigmoid (jax.nn.hard_sigmoid up to rounding): 0 at its
    // corners ±3, where f32's (1/6)·3 rounds to exactly 0.5.
    let torch = |x| scalar::hard_sigmoid_slope(x, 1.0 / 6.0, 0.5);
    assert_table(
        "hard_sigmoid_slope",
        torch,
        &[
            (-3.0, 0.0),
            (3.0, 0.0),
            (0.0, 1.0 / 6.0),
            (2.999, 1.0 / 6.0),
            (-4.0, 0.0),
        ],
    );
    let decreasing = |x| scalar::hard_sigmoid_slope(x, -0.5, 0.5);
    assert_table(
        "hard_sigmoid_slope",
        decreasing,
        &[(1.0, 0.0), (-1.0, 0.0), (0.0, -0.5), (2.0, 0.0)],
    );
}

/// `α·x + β` is rounded as the forward function rounds it: with
/// `α = 0.1, β = 0.3` (as f32), `0.1·(-3)` rounds to exactly `-0.3`, so
/// `hard_sigmoid(-3)` is 0, a corner, and the slope there is 0, although in
/// exact arithmetic on the same f32 values `α·x + β ≈ 7.5e-9` lies inside.
#[test]
fn hard_sigmoid_corners_follow_the_f32_forward_function() {
    let (alpha, beta) = (0.1_f32, 0.3_f32);
    assert_eq!(alpha * -3.0, -beta);
    assert!(f64::from(alpha).mul_add(-3.0, f64::from(beta)) > 7e-9);
    assert_eq!(scalar::hard_sigmoid(-3.0, alpha, beta), 0.0);
    assert_eq!(scalar::hard_sigmoid_slope(-3.0, alpha, beta), 0.0);
    assert_eq!(scalar::hard_sigmoid_slope(-2.999_999_8, alpha, beta), alpha);
}

#[test]
fn nan_gives_nan() {
    let unary: [Named; 14] = [
        ("neg_slope", scalar::neg_slope),
        ("abs_slope", scalar::abs_slope),
        ("exp_slope", scalar::exp_slope),
        ("log_slope", scalar::log_slope),
        ("sqrt_slope", scalar::sqrt_slope),
        ("square_slope", scalar::square_slope),
        ("relu_slope", scalar::relu_slope),
        ("sigmoid_slope", scalar::sigmoid_slope),
        ("tanh_slope", scalar::tanh_slope),
        ("gelu_tanh_slope", scalar::gelu_tanh_slope),
        ("gelu_exact_slope", scalar::gelu_exact_slope),
        ("erf_slope", scalar::erf_slope),
        ("softplus_slope", scalar::softplus_slope),
        ("silu_slope", scalar::silu_slope),
    ];
    for (name, f) in unary {
        assert!(f(NAN).is_nan(), "{name}");
    }
    for alpha in [0.0, 0.2, -1.0] {
        assert!(scalar::leaky_relu_slope(NAN, alpha).is_nan());
        assert!(scalar::elu_slope(NAN, alpha).is_nan());
        assert!(scalar::hard_sigmoid_slope(NAN, alpha, 0.5).is_nan());
    }
    assert!(scalar::clip_slope(NAN, 0.0, 6.0).is_nan());
    assert!(scalar::clip_slope(NAN, 1.0, -1.0).is_nan());
    // A NaN parameter of the affine hard sigmoid makes α·x + β NaN.
    assert!(scalar::hard_sigmoid_slope(1.0, NAN, 0.5).is_nan());
    assert!(scalar::hard_sigmoid_slope(1.0, 0.2, NAN).is_nan());
    // The IEEE rules of pow: NaN⁰ = 1, so p = 1 has slope 1 even at NaN.
    assert!(scalar::pow_slope(NAN, 2.0).is_nan() && scalar::pow_slope(NAN, 0.0).is_nan());
    assert_eq!(scalar::pow_slope(NAN, 1.0), 1.0);
    assert!(scalar::pow_slope(2.0, NAN).is_nan());
}

#[test]
fn infinities_and_poles_of_elementary_slopes() {
    assert_table(
        "neg_slope",
        scalar::neg_slope,
        &[(INF, -1.0), (NEG, -1.0), (0.0, -1.0)],
    );
    assert_table("abs_slope", scalar::abs_slope, &[(INF, 1.0), (NEG, -1.0)]);
    assert_table(
        "exp_slope",
        scalar::exp_slope,
        &[(INF, INF), (NEG, 0.0), (89.0, INF), (0.0, 1.0)],
    );
    assert_table(
        "log_slope",
        scalar::log_slope,
        &[
            (INF, 0.0),
            (NEG, -0.0),
            (0.0, INF),
            (-0.0, NEG),
            (-4.0, -0.25),
        ],
    );
    assert_table(
        "sqrt_slope",
        scalar::sqrt_slope,
        &[
            (INF, 0.0),
            (NEG, NAN),
            (0.0, INF),
            (-0.0, NEG),
            (-1.0, NAN),
            (4.0, 0.25),
        ],
    );
    assert_table(
        "square_slope",
        scalar::square_slope,
        &[(INF, INF), (NEG, NEG), (-0.0, -0.0), (f32::MAX, INF)],
    );
    let pow = |p: f32| move |x| scalar::pow_slope(x, p);
    assert_table(
        "pow_slope p=0",
        pow(0.0),
        &[(0.0, NAN), (2.0, 0.0), (INF, 0.0)],
    );
    assert_table(
        "pow_slope p=0.5",
        pow(0.5),
        &[(0.0, INF), (-1.0, NAN), (4.0, 0.25), (INF, 0.0)],
    );
    assert_table(
        "pow_slope p=2",
        pow(2.0),
        &[(-3.0, -6.0), (-0.0, -0.0), (INF, INF), (NEG, NEG)],
    );
    assert_table(
        "pow_slope p=-1",
        pow(-1.0),
        &[(0.0, NEG), (2.0, -0.25), (INF, -0.0)],
    );
    assert_table(
        "pow_slope p=1",
        pow(1.0),
        &[(0.0, 1.0), (INF, 1.0), (-5.0, 1.0)],
    );
}

#[test]
fn infinities_of_piecewise_slopes() {
    assert_table("relu_slope", scalar::relu_slope, &[(INF, 1.0), (NEG, 0.0)]);
    assert_table(
        "leaky_relu_slope",
        |x| scalar::leaky_relu_slope(x, 0.2),
        &[(INF, 1.0), (NEG, 0.2)],
    );
    assert_table(
        "elu_slope",
        |x| scalar::elu_slope(x, 1.5),
        &[(INF, 1.0), (NEG, 0.0), (-1e4, 0.0)],
    );
    assert_table(
        "clip_slope",
        |x| scalar::clip_slope(x, -1.0, 1.0),
        &[(INF, 0.0), (NEG, 0.0)],
    );
    // A NaN bound is ignored, as `clip` ignores it.
    assert_table(
        "clip_slope",
        |x| scalar::clip_slope(x, NAN, NAN),
        &[(5.0, 1.0), (NEG, 1.0)],
    );
    assert_table(
        "clip_slope",
        |x| scalar::clip_slope(x, NAN, 1.0),
        &[(1.0, 0.5), (2.0, 0.0)],
    );
    let hard = |x| scalar::hard_sigmoid_slope(x, 0.2, 0.5);
    assert_table("hard_sigmoid_slope", hard, &[(INF, 0.0), (NEG, 0.0)]);
    // α = 0: 0·inf is NaN, as in the forward function.
    assert_table(
        "hard_sigmoid_slope",
        |x| scalar::hard_sigmoid_slope(x, 0.0, 0.5),
        &[(INF, NAN), (1.0, 0.0)],
    );
}

#[test]
fn infinities_of_smooth_slopes() {
    assert_table(
        "sigmoid_slope",
        scalar::sigmoid_slope,
        &[(INF, 0.0), (NEG, 0.0), (0.0, 0.25), (1e4, 0.0)],
    );
    assert_table(
        "tanh_slope",
        scalar::tanh_slope,
        &[(INF, 0.0), (NEG, 0.0), (0.0, 1.0), (-0.0, 1.0)],
    );
    assert_table(
        "softplus_slope",
        scalar::softplus_slope,
        &[(INF, 1.0), (NEG, 0.0), (0.0, 0.5)],
    );
    for (name, f) in [
        ("silu_slope", scalar::silu_slope as fn(f32) -> f32),
        ("gelu_tanh_slope", scalar::gelu_tanh_slope),
        ("gelu_exact_slope", scalar::gelu_exact_slope),
    ] {
        // The limits, where JAX computes 0 · inf = NaN.
        assert_table(
            name,
            f,
            &[
                (INF, 1.0),
                (NEG, 0.0),
                (0.0, 0.5),
                (-0.0, 0.5),
                (f32::MAX, 1.0),
            ],
        );
        assert_eq!(f(f32::MIN), 0.0, "{name}(f32::MIN)");
    }
}

/// Tails where a cancelling formula (`1 − tanh²`, `σ(1 − σ)`, `1 + tanh u`)
/// would give 0: the slopes keep their size, against closed forms worked
/// out here in f64 (`tanh′(x) ≈ 4e^−2|x|`, `σ′(x) ≈ e^−|x|`, and
/// `silu′(x) ≈ (1 + x)·eˣ` for `x ≪ 0`).
#[test]
fn tails_do_not_cancel() {
    let close = |actual: f32, expected: f64| (f64::from(actual) / expected - 1.0).abs() < 1e-6;
    assert!(close(scalar::tanh_slope(10.0), 4.0 * (-20.0_f64).exp()));
    assert!(close(scalar::tanh_slope(-20.0), 4.0 * (-40.0_f64).exp()));
    assert!(close(scalar::sigmoid_slope(30.0), (-30.0_f64).exp()));
    assert!(close(scalar::silu_slope(-30.0), -29.0 * (-30.0_f64).exp()));
    // GELU's tanh form at -6: u ≈ -12.5, where f32's tanh u is exactly -1,
    // so 0.5·(1 + tanh u) would be 0; the slope is σ(2u)·(1 + 2x·u′·σ(−2u))
    // ≈ -7.7e-10.
    let (x, c) = (-6.0_f64, (2.0 / std::f64::consts::PI).sqrt());
    let u = c * (x + 0.044_715 * x.powi(3));
    let du = c * (1.0 + 3.0 * 0.044_715 * x * x);
    let s = (2.0 * u).exp() / (1.0 + (2.0 * u).exp());
    let expected = s * (1.0 + 2.0 * x * du * (1.0 - s));
    assert!((-8e-10..-7e-10).contains(&expected));
    assert!(close(scalar::gelu_tanh_slope(-6.0), expected));
}

/// `erf_slope`, which the JAX fixture does not cover: `(2/√π)·e^(−x²)`
/// against that closed form in `f64` (rounded once, as the slope is) over a
/// grid into the subnormal tail, against central differences of
/// `scalar::erf`, and its limits.
#[test]
fn erf_slope_is_the_gaussian() {
    let closed = |x: f64| std::f64::consts::FRAC_2_SQRT_PI * (-x * x).exp();
    for i in -1100..=1100 {
        let x = f64::from(i) / 100.0;
        #[allow(clippy::cast_possible_truncation)]
        let (x32, expected) = (x as f32, closed(f64::from(x as f32)) as f32);
        let actual = scalar::erf_slope(x32);
        let ulp = f64::from(expected.abs()) * 1.2e-7 + 1.5e-45;
        assert!(
            (f64::from(actual) - f64::from(expected)).abs() <= ulp,
            "erf_slope({x32}) = {actual:e}, expected {expected:e}"
        );
        if x.abs() < 4.0 && x != 0.0 {
            let h = 1e-3;
            let (above, below) = (x32 + h, x32 - h);
            let difference = (f64::from(scalar::erf(above)) - f64::from(scalar::erf(below)))
                / (f64::from(above) - f64::from(below));
            assert!(
                (difference - f64::from(actual)).abs() < 1e-3,
                "erf_slope({x32}) = {actual:e}, finite difference {difference:e}"
            );
        }
    }
    assert_table(
        "erf_slope",
        scalar::erf_slope,
        &[
            (INF, 0.0),
            (NEG, 0.0),
            (11.0, 0.0),
            (-11.0, 0.0),
            (f32::MAX, 0.0),
        ],
    );
    assert_eq!(scalar::erf_slope(0.0), scalar::erf_slope(-0.0));
    assert!(scalar::erf_slope(9.5) > 0.0 && scalar::erf_slope(9.5) < f32::MIN_POSITIVE);
}
