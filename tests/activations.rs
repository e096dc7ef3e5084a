//! `silu`, `elu` and `hard_sigmoid` written in `graph!` graphs, against
//! numpy (`tests/reference/fixtures/kernels/activations.json`, written by
//! `tests/reference/activations.py` in float64 and rounded once to f32),
//! on every path the macro compiles them to:
//!
//! - one elementwise node per op: `act(x)`, nine outputs of one graph, on
//!   the std path (`[n, 19]`), the `#[no_std]` path (`[9, 19]`, fixed-size
//!   arrays) and with `#[optimize(off)]`;
//! - inside a fused elementwise tree: `act(x * 1.0)`, one pass over memory;
//! - in a dense kernel's epilogue: `act(matmul(x, w) + b)` with `w` the
//!   19 × 19 identity and `b` zeros, passed as variables, so the product is
//!   exact (each sum is one `x·1` plus zeros) and the activation is the only
//!   rounding;
//!
//! the last two in one small graph per fixture case (one per case so that
//! no common subexpression is shared between outputs, which would stop the
//! fusions), each on the std and `#[no_std]` paths, optimized and not. The
//! DOT text proves that the optimized graphs really fused what they should
//! and the `#[optimize(off)]` ones did not, so the value checks cannot pass
//! on an unfused path by accident.
//!
//! Each fixture case is matched to the graphs written for it by its op and
//! parameters; every case must be matched exactly once. NaN, infinities and
//! signed zeros are checked by hand against `docs/NUMERICS.md`, and the
//! FLOPs of `SUMMARY` against the per-element costs of
//! `staticflow::summary`.

mod common;

use common::{assert_close, cases, Case, Tolerance};
use staticflow::graph;
use staticflow::ndarray::{Array1, Array2, Ix2};

/// `silu` and `elu`: `|actual − expected| ≤ 2.4e-7·|expected| + 1e-43`, the
/// tolerance of `graph-runtime/tests/activations.rs`, whose kernels the
/// graphs call.
///
/// The relative part is two units in the last place at the bottom of a
/// binade (2·2⁻²³): the reference is correctly rounded, and the f32
/// evaluation adds the error of `exp`/`expm1` and of one or two roundings.
/// The absolute part covers only subnormal results: below `x ≈ -87`
/// `σ(x)` is subnormal in f32, so `silu`'s tiny results there are off by up
/// to `|x|·2⁻¹⁵⁰ < 1e-43`.
const SMOOTH: Tolerance = Tolerance {
    rel: 2.4e-7,
    abs: 1e-43,
};

/// `hard_sigmoid`: `|actual − expected| ≤ 2.4e-7·|expected| + 6e-8`, as in
/// `graph-runtime/tests/activations.rs`.
///
/// `α·x` and `+ β` round separately, and near the lower kink the sum
/// cancels: the rounding of `α·x` (at most half an ulp of a value below 1
/// in magnitude, 2⁻²⁵ ≈ 3e-8) can dominate a result near 0, so the absolute
/// part allows twice that.
const AFFINE: Tolerance = Tolerance {
    rel: 2.4e-7,
    abs: 6e-8,
};

/// The fixture's inputs form a `ROWS × COLUMNS` matrix.
const ROWS: usize = 9;
const COLUMNS: usize = 19;

/// One result of a graph, for one fixture case.
struct Output {
    /// The case: the name of its output and of its module below.
    case: &'static str,
    /// Which graph and output computed it, for failure messages.
    path: &'static str,
    /// Whether a dense kernel computed it (whose sum turns `-0` into `+0`).
    dense: bool,
    value: Array2<f32>,
}

/// Writes, for a list of cases `name: op(attributes..);`,
///
/// - `Activations` (std, `[n, 19]`), `ActivationsOff` (the same with
///   `#[optimize(off)]`) and `ActivationsBare` (`#[no_std]`, `[9, 19]`),
///   each with one output `name = op(x, attributes..)` per case, and
///   `activation_outputs(x)` running all three;
/// - per case a module `name` with the graphs `Std`, `StdOff`, `Bare` and
///   `BareOff`, each with the outputs `in_tree = op(x * 1.0, ..)` and
///   `dense = op(matmul(x, w) + b, ..)`, and `outputs(x, w, b)` running
///   all four; `case_outputs(x, w, b)` runs every module's;
/// - `NAMES`, the cases in order, and `DOTS`, every graph's `DOT` text.
macro_rules! cases {
    // Each case's attributes become `[, attributes..]`, or `[]` without any,
    // to follow the tensor operand inside the call.
    (@norm [$($done:tt)*]) => {
        cases!(@emit $($done)*);
    };
    (@norm [$($done:tt)*] $name:ident: $op:ident(); $($rest:tt)*) => {
        cases!(@norm [$($done)* ($name $op [])] $($rest)*);
    };
    (@norm [$($done:tt)*] $name:ident: $op:ident($($attrs:tt)+); $($rest:tt)*) => {
        cases!(@norm [$($done)* ($name $op [, $($attrs)+])] $($rest)*);
    };
    (@emit $(($name:ident $op:ident [$($extra:tt)*]))*) => {
        // The code `graph!` generates inside a `macro_rules!` macro trips
        // `clippy::redundant_field_names` (`Outputs { y: y }`), which the
        // same graphs written directly do not: hence the modules' `allow`.
        #[allow(clippy::redundant_field_names)]
        mod all {
            use staticflow::graph;

            graph! {
                pub struct Activations {
                    input x: [n, 19];
                    $(output $name = $op(x $($extra)*);)*
                }
            }
            graph! {
                #[optimize(off)]
                pub struct ActivationsOff {
                    input x: [n, 19];
                    $(output $name = $op(x $($extra)*);)*
                }
            }
            graph! {
                #[no_std]
                pub struct ActivationsBare {
                    input x: [9, 19];
                    $(output $name = $op(x $($extra)*);)*
                }
            }
        }
        use all::{Activations, ActivationsBare, ActivationsOff};

        fn activation_outputs(x: &Array2<f32>) -> Vec<Output> {
            let std = Activations::new().run(x.view()).expect("the graph's shapes");
            let off = ActivationsOff::new().run(x.view()).expect("the graph's shapes");
            let bare = ActivationsBare::new().run(&fixed_matrix(x));
            vec![
                $(
                    Output {
                        case: stringify!($name),
                        path: "Activations (std)",
                        dense: false,
                        value: std.$name,
                    },
                    Output {
                        case: stringify!($name),
                        path: "ActivationsOff (std, optimize(off))",
                        dense: false,
                        value: off.$name,
                    },
                    Output {
                        case: stringify!($name),
                        path: "ActivationsBare (no_std)",
                        dense: false,
                        value: matrix(&bare.$name),
                    },
                )*
            ]
        }

        $(
            #[allow(clippy::redundant_field_names)] // As `all` above.
            mod $name {
                use staticflow::graph;
                use staticflow::ndarray::{Array1, Array2};

                use super::{fixed_matrix, fixed_vector, matrix, Output};

                graph! {
                    pub struct Std {
                        input x: [n, 19];
                        var w: [19, 19];
                        var b: [19];
                        output in_tree = $op(x * 1.0 $($extra)*);
                        output dense = $op(matmul(x, w) + b $($extra)*);
                    }
                }
                graph! {
                    #[optimize(off)]
                    pub struct StdOff {
                        input x: [n, 19];
                        var w: [19, 19];
                        var b: [19];
                        output in_tree = $op(x * 1.0 $($extra)*);
                        output dense = $op(matmul(x, w) + b $($extra)*);
                    }
                }
                graph! {
                    #[no_std]
                    pub struct Bare {
                        input x: [9, 19];
                        var w: [19, 19];
                        var b: [19];
                        output in_tree = $op(x * 1.0 $($extra)*);
                        output dense = $op(matmul(x, w) + b $($extra)*);
                    }
                }
                graph! {
                    #[no_std]
                    #[optimize(off)]
                    pub struct BareOff {
                        input x: [9, 19];
                        var w: [19, 19];
                        var b: [19];
                        output in_tree = $op(x * 1.0 $($extra)*);
                        output dense = $op(matmul(x, w) + b $($extra)*);
                    }
                }

                pub fn outputs(x: &Array2<f32>, w: &Array2<f32>, b: &Array1<f32>) -> Vec<Output> {
                    let case = stringify!($name);
                    let std = Std::new(w.clone(), b.clone())
                        .expect("the variables' shapes")
                        .run(x.view())
                        .expect("the input's shape");
                    let off = StdOff::new(w.clone(), b.clone())
                        .expect("the variables' shapes")
                        .run(x.view())
                        .expect("the input's shape");
                    let bare = Bare::new(fixed_matrix(w), fixed_vector(b)).run(&fixed_matrix(x));
                    let bare_off =
                        BareOff::new(fixed_matrix(w), fixed_vector(b)).run(&fixed_matrix(x));
                    let output = |path, dense, value| Output { case, path, dense, value };
                    vec![
                        output("Std::in_tree", false, std.in_tree),
                        output("Std::dense", true, std.dense),
                        output("StdOff::in_tree", false, off.in_tree),
                        output("StdOff::dense", true, off.dense),
                        output("Bare::in_tree", false, matrix(&bare.in_tree)),
                        output("Bare::dense", true, matrix(&bare.dense)),
                        output("BareOff::in_tree", false, matrix(&bare_off.in_tree)),
                        output("BareOff::dense", true, matrix(&bare_off.dense)),
                    ]
                }
            }
        )*

        fn case_outputs(x: &Array2<f32>, w: &Array2<f32>, b: &Array1<f32>) -> Vec<Output> {
            let mut found = Vec::new();
            $(found.extend($name::outputs(x, w, b));)*
            found
        }

        /// The cases, in the order written.
        const NAMES: &[&str] = &[$(stringify!($name)),*];

        /// Each case's graphs' DOT text: `(case, graph, text)`.
        const DOTS: &[(&str, &str, &str)] = &[
            $(
                (stringify!($name), "Std", $name::Std::DOT),
                (stringify!($name), "StdOff", $name::StdOff::DOT),
                (stringify!($name), "Bare", $name::Bare::DOT),
                (stringify!($name), "BareOff", $name::BareOff::DOT),
            )*
        ];
    };
    ($($cases:tt)*) => {
        cases!(@norm [] $($cases)*);
    };
}

cases! {
    silu: silu();
    elu_half: elu(alpha = 0.5);
    elu_default: elu();
    elu_two: elu(alpha = 2.0);
    hard_sigmoid_default: hard_sigmoid();
    hard_sigmoid_pytorch: hard_sigmoid(alpha = 0.16666667, beta = 0.5);
    hard_sigmoid_clip: hard_sigmoid(alpha = 1.0, beta = 0.0);
    hard_sigmoid_other: hard_sigmoid(beta = 0.3, alpha = 0.1);
    hard_sigmoid_decreasing: hard_sigmoid(alpha = -0.5, beta = 0.5);
}

/// What each case above is, written out by hand.
struct Entry {
    /// The case's output and module name above.
    name: &'static str,
    /// The fixture's op.
    op: &'static str,
    /// The parameters the graph gives the op (defaults included), in the
    /// fixture's order: `alpha` for `elu`, `alpha` and `beta` for
    /// `hard_sigmoid`.
    params: &'static [f32],
    /// The attributes as the DOT labels show them, `name=value`.
    attributes: &'static str,
    /// FLOPs per element, from `staticflow::summary`'s table.
    cost: u64,
    tolerance: Tolerance,
    /// The op at `[NaN, +inf, -inf, +0, -0]`, from `docs/NUMERICS.md`.
    specials: [f32; 5],
}

const NAN: f32 = f32::NAN;
const INF: f32 = f32::INFINITY;

/// The special inputs `Entry::specials` gives the results for.
const SPECIAL_INPUTS: [f32; 5] = [NAN, INF, -INF, 0.0, -0.0];

/// `silu` keeps NaN and is `+inf` at `+inf`, NaN at `-inf`
/// (`-inf · σ(-inf) = -inf · 0`) and keeps the sign of zero. `elu` keeps
/// NaN, is `+inf` at `+inf`, `-α` at `-inf` and `-0` at `-0` (`α > 0`).
/// `hard_sigmoid` keeps NaN, and for `α > 0` is 1 at `+inf` and 0 at `-inf`
/// (reversed for `α < 0`); at zero of either sign it is `β` clamped to
/// `[0, 1]`.
const ENTRIES: &[Entry] = &[
    Entry {
        name: "silu",
        op: "silu",
        params: &[],
        attributes: "",
        cost: 5,
        tolerance: SMOOTH,
        specials: [NAN, INF, NAN, 0.0, -0.0],
    },
    Entry {
        name: "elu_half",
        op: "elu",
        params: &[0.5],
        attributes: "alpha=0.5",
        cost: 4,
        tolerance: SMOOTH,
        specials: [NAN, INF, -0.5, 0.0, -0.0],
    },
    Entry {
        name: "elu_default",
        op: "elu",
        params: &[1.0],
        attributes: "alpha=1",
        cost: 4,
        tolerance: SMOOTH,
        specials: [NAN, INF, -1.0, 0.0, -0.0],
    },
    Entry {
        name: "elu_two",
        op: "elu",
        params: &[2.0],
        attributes: "alpha=2",
        cost: 4,
        tolerance: SMOOTH,
        specials: [NAN, INF, -2.0, 0.0, -0.0],
    },
    Entry {
        name: "hard_sigmoid_default",
        op: "hard_sigmoid",
        params: &[0.2, 0.5],
        attributes: "alpha=0.2, beta=0.5",
        cost: 4,
        tolerance: AFFINE,
        specials: [NAN, 1.0, 0.0, 0.5, 0.5],
    },
    Entry {
        name: "hard_sigmoid_pytorch",
        op: "hard_sigmoid",
        // The f32 nearest 1/6, as the fixture stores it: the graph's
        // literal 0.16666667 rounds to it too (its label says so).
        params: &[1.0 / 6.0, 0.5],
        attributes: "alpha=0.16666667, beta=0.5",
        cost: 4,
        tolerance: AFFINE,
        specials: [NAN, 1.0, 0.0, 0.5, 0.5],
    },
    Entry {
        name: "hard_sigmoid_clip",
        op: "hard_sigmoid",
        params: &[1.0, 0.0],
        attributes: "alpha=1, beta=0",
        cost: 4,
        tolerance: AFFINE,
        specials: [NAN, 1.0, 0.0, 0.0, 0.0],
    },
    Entry {
        name: "hard_sigmoid_other",
        op: "hard_sigmoid",
        params: &[0.1, 0.3],
        attributes: "alpha=0.1, beta=0.3",
        cost: 4,
        tolerance: AFFINE,
        specials: [NAN, 1.0, 0.0, 0.3, 0.3],
    },
    Entry {
        name: "hard_sigmoid_decreasing",
        op: "hard_sigmoid",
        params: &[-0.5, 0.5],
        attributes: "alpha=-0.5, beta=0.5",
        cost: 4,
        tolerance: AFFINE,
        specials: [NAN, 0.0, 1.0, 0.5, 0.5],
    },
];

fn entry(name: &str) -> &'static Entry {
    ENTRIES
        .iter()
        .find(|entry| entry.name == name)
        .unwrap_or_else(|| panic!("no entry for the case `{name}`"))
}

impl Entry {
    /// The op with its attributes, as an elementwise node's DOT label
    /// shows it: `elu(alpha=0.5)`, or `silu` alone.
    fn call(&self) -> String {
        if self.attributes.is_empty() {
            self.op.to_string()
        } else {
            format!("{}({})", self.op, self.attributes)
        }
    }

    /// The op applied to `operand`, as a formula in a fused node's label:
    /// `elu(x * 1, alpha=0.5)`.
    fn formula(&self, operand: &str) -> String {
        if self.attributes.is_empty() {
            format!("{}({operand})", self.op)
        } else {
            format!("{}({operand}, {})", self.op, self.attributes)
        }
    }
}

/// The parameters of a fixture case, in the order `Entry::params` lists
/// them.
fn fixture_params(case: &Case) -> Vec<f32> {
    let keys: &[&str] = match case.op() {
        "silu" => &[],
        "elu" => &["alpha"],
        "hard_sigmoid" => &["alpha", "beta"],
        other => panic!("{}: an op this test does not know: {other}", case.label()),
    };
    keys.iter().map(|&key| case.scalar(key)).collect()
}

/// The fixture case `entry` was written for, matched by op and parameters.
fn fixture_case<'a>(fixture: &'a [Case], entry: &Entry) -> &'a Case {
    let matching: Vec<&Case> = fixture
        .iter()
        .filter(|case| case.op() == entry.op && fixture_params(case) == entry.params)
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "`{}`: fixture cases with op {} and parameters {:?}",
        entry.name,
        entry.op,
        entry.params
    );
    matching[0]
}

// Conversions between ndarray and the `#[no_std]` graphs' arrays.

fn fixed_matrix<const R: usize, const C: usize>(x: &Array2<f32>) -> [[f32; C]; R] {
    assert_eq!(x.dim(), (R, C), "a matrix of the graph's shape");
    std::array::from_fn(|i| std::array::from_fn(|j| x[[i, j]]))
}

fn fixed_vector<const N: usize>(b: &Array1<f32>) -> [f32; N] {
    assert_eq!(b.len(), N, "a vector of the graph's shape");
    std::array::from_fn(|i| b[i])
}

fn matrix<const R: usize, const C: usize>(x: &[[f32; C]; R]) -> Array2<f32> {
    Array2::from_shape_vec((R, C), x.as_flattened().to_vec()).expect("R·C values")
}

/// The fixture's inputs and expected results of `case`, as matrices.
fn matrices(case: &Case) -> (Array2<f32>, Array2<f32>) {
    let x = case
        .f32s("x")
        .into_dimensionality::<Ix2>()
        .expect("a matrix");
    let expected = case
        .f32s("out")
        .into_dimensionality::<Ix2>()
        .expect("a matrix");
    (x, expected)
}

/// Every graph output of every case on input `x`, with `w` and `b` as the
/// dense layers' variables.
fn all_outputs(x: &Array2<f32>, w: &Array2<f32>, b: &Array1<f32>) -> Vec<Output> {
    let mut found = activation_outputs(x);
    found.extend(case_outputs(x, w, b));
    found
}

#[test]
fn every_fixture_case_has_its_graphs() {
    let fixture = cases("activations");
    assert_eq!(fixture.len(), 9, "1 silu, 3 elu and 5 hard_sigmoid cases");
    assert_eq!(
        NAMES,
        ENTRIES.iter().map(|entry| entry.name).collect::<Vec<_>>(),
        "the cases written in graphs and those described by hand"
    );
    // A bijection: each entry matches one case (checked by `fixture_case`),
    // and no two entries match the same one.
    let mut matched: Vec<String> = ENTRIES
        .iter()
        .map(|entry| fixture_case(&fixture, entry).label())
        .collect();
    matched.sort();
    matched.dedup();
    assert_eq!(matched.len(), fixture.len(), "cases matched: {matched:?}");
    let (x, _) = matrices(&fixture[0]);
    assert_eq!(x.dim(), (ROWS, COLUMNS));
}

/// Every case through every graph: `act(x)`, `act(x * 1.0)` and
/// `act(matmul(x, I) + 0)`, std and `#[no_std]`, optimized and not.
#[test]
fn graphs_match_numpy_on_every_path() {
    let fixture = cases("activations");
    let identity = Array2::<f32>::eye(COLUMNS);
    let zeros = Array1::<f32>::zeros(COLUMNS);
    // Every case has the same inputs, so one run of each graph covers all.
    let (x, _) = matrices(&fixture[0]);
    for case in &fixture {
        assert_eq!(matrices(case).0, x, "{}: the shared grid", case.label());
    }
    let outputs = all_outputs(&x, &identity, &zeros);
    // Per case: 3 of `act(x)` and 8 of the case's own graphs.
    assert_eq!(outputs.len(), ENTRIES.len() * 11);
    for output in outputs {
        let entry = entry(output.case);
        let case = fixture_case(&fixture, entry);
        let (_, expected) = matrices(case);
        assert_close(
            &format!("{} via {}", case.label(), output.path),
            &output.value.view().into_dyn(),
            &expected.view().into_dyn(),
            entry.tolerance,
        );
    }
}

/// Whether `actual` is `expected`: NaN matching NaN, and the sign of zero
/// included when `signed_zero`.
fn same(actual: f32, expected: f32, signed_zero: bool) -> bool {
    if expected.is_nan() {
        actual.is_nan()
    } else {
        actual == expected
            && (!signed_zero || actual.is_sign_negative() == expected.is_sign_negative())
    }
}

/// NaN, `±inf` and `±0` through every graph, as `docs/NUMERICS.md` states.
///
/// Row `i < 5` of the input holds `SPECIAL_INPUTS[i]` in column 0 and zeros
/// elsewhere; the other rows are zeros. The elementwise forms give
/// `act(SPECIAL_INPUTS[i])` there and `act(+0)` everywhere else, signs of
/// zero included (`x * 1.0` keeps them). The dense forms get a `w` whose
/// first row is ones and whose other rows are zeros, so every column of
/// row `i` sums to `x[i][0]·1` plus products of zeros, exactly, with no
/// `0 · inf`; only the sign of a zero sum is left to the kernel (`-0` plus
/// `+0` terms is `+0`), so the dense forms are not held to it.
#[test]
fn special_values_on_every_path() {
    let mut x = Array2::<f32>::zeros((ROWS, COLUMNS));
    for (i, &value) in SPECIAL_INPUTS.iter().enumerate() {
        x[[i, 0]] = value;
    }
    let mut w = Array2::<f32>::zeros((COLUMNS, COLUMNS));
    w.row_mut(0).fill(1.0);
    let zeros = Array1::<f32>::zeros(COLUMNS);
    for output in all_outputs(&x, &w, &zeros) {
        let entry = entry(output.case);
        let at_zero = entry.specials[3];
        for ((i, j), &actual) in output.value.indexed_iter() {
            let in_special_row = i < SPECIAL_INPUTS.len() && (j == 0 || output.dense);
            let expected = if in_special_row {
                entry.specials[i]
            } else {
                at_zero
            };
            assert!(
                same(actual, expected, !output.dense),
                "{} via {} at [{i}, {j}]: got {actual:?}, expected {expected:?}",
                entry.name,
                output.path
            );
        }
    }
}

/// `name` twice: on the std path and, as `bare`, `#[no_std]`.
macro_rules! twice {
    ($(#[$doc:meta])* $name:ident, $bare:ident { $($body:tt)* }) => {
        graph! {
            $(#[$doc])*
            struct $name { $($body)* }
        }
        graph! {
            $(#[$doc])*
            #[no_std]
            struct $bare { $($body)* }
        }
    };
}

twice! {
    /// The degenerate parameters of `docs/NUMERICS.md`, beyond the fixture,
    /// and `silu` far out.
    Degenerate, DegenerateBare {
        input x: [5];
        output elu_zero = elu(x, alpha = 0.0);
        output flat = hard_sigmoid(x, alpha = 0.0);
        output saturated = hard_sigmoid(x, beta = 3.0);
        output silu_far = silu(x);
    }
}

/// `elu` with `α = 0` is `-0` at `-inf` (`0 · (e^-inf − 1) = 0 · -1`), never
/// NaN; `hard_sigmoid` with `α = 0` is NaN at both infinities (`0 · inf`)
/// and `β` elsewhere; a `β` above 1 clamps to 1, zeros included. `silu` of
/// very negative finite inputs is `-0` (σ has underflowed to 0), of the
/// largest finite input that input.
#[test]
fn degenerate_parameters_and_extremes() {
    let check = |name: &str, std: &[f32], bare: &[f32], expected: &[f32], signed: &[bool]| {
        for (path, actual) in [("std", std), ("no_std", bare)] {
            for i in 0..expected.len() {
                assert!(
                    same(actual[i], expected[i], signed[i]),
                    "{name} ({path})[{i}]: got {:?}, expected {:?}",
                    actual[i],
                    expected[i]
                );
            }
        }
    };
    let signed = [true; 5];
    let std = Degenerate::new()
        .run(Array1::from(SPECIAL_INPUTS.to_vec()).view())
        .expect("the input's shape");
    let bare = DegenerateBare::new().run(&SPECIAL_INPUTS);
    // At -0, elu with α = 0 is 0 · expm1(-0): the sign is not documented.
    check(
        "elu, alpha = 0",
        &std.elu_zero.to_vec(),
        &bare.elu_zero,
        &[NAN, INF, -0.0, 0.0, 0.0],
        &[true, true, true, true, false],
    );
    check(
        "hard_sigmoid, alpha = 0",
        &std.flat.to_vec(),
        &bare.flat,
        &[NAN, NAN, NAN, 0.5, 0.5],
        &signed,
    );
    check(
        "hard_sigmoid, beta = 3",
        &std.saturated.to_vec(),
        &bare.saturated,
        &[NAN, 1.0, 0.0, 1.0, 1.0],
        &signed,
    );

    let far = [-1e4_f32, -105.0, f32::MIN, f32::MAX, 1.0];
    let std = Degenerate::new()
        .silu_far(Array1::from(far.to_vec()).view())
        .expect("the input's shape");
    let bare = DegenerateBare::new().silu_far(&far);
    // σ(1) = 1 / (1 + e^-1) = 0.7310585786300049, which rounds to the f32
    // 0.731_058_6; checked apart below.
    check(
        "silu, far out",
        &std.to_vec()[..4],
        &bare[..4],
        &[-0.0, -0.0, -0.0, f32::MAX],
        &signed,
    );
    for (path, value) in [("std", std[4]), ("no_std", bare[4])] {
        assert!(
            (value - 0.731_058_6).abs() <= 1e-7,
            "silu(1) ({path}): {value}"
        );
    }
}

/// `label="name\ncall"` in DOT text, the label of the node computing the
/// output `name` (DOT escapes the line break as `\n`).
fn label(name: &str, call: &str) -> String {
    format!("label=\"{name}\\n{call}\"")
}

/// The labels the brief names, written out in full.
#[test]
fn dot_labels_written_out() {
    assert!(Activations::DOT.contains(&label("elu_half", "elu(alpha=0.5)")));
    assert!(Activations::DOT.contains(&label(
        "hard_sigmoid_default",
        "hard_sigmoid(alpha=0.2, beta=0.5)"
    )));
    assert!(Activations::DOT.contains(&label("silu", "silu")));
    assert!(silu::Std::DOT.contains(&label("dense", "dense: silu(matmul(x, w) + b)")));
    assert!(silu::Bare::DOT.contains(&label("dense", "dense: silu(matmul(x, w) + b)")));
    assert!(hard_sigmoid_pytorch::Std::DOT.contains(&label(
        "dense",
        "dense: hard_sigmoid(matmul(x, w) + b, alpha=0.16666667, beta=0.5)"
    )));
    assert!(elu_half::Std::DOT.contains(&label("in_tree", "fused: elu(x * 1, alpha=0.5)")));
}

/// Every graph's DOT shows the op with its attributes, defaults included;
/// the optimized graphs fused `act(x * 1.0)` into one elementwise pass and
/// `act(matmul(x, w) + b)` into one `dense:` node, and the
/// `#[optimize(off)]` ones left every node as written.
#[test]
fn dot_shows_what_the_optimizer_did() {
    for graph in [Activations::DOT, ActivationsOff::DOT, ActivationsBare::DOT] {
        for entry in ENTRIES {
            assert!(
                graph.contains(&label(entry.name, &entry.call())),
                "{} in\n{graph}",
                label(entry.name, &entry.call())
            );
        }
        assert!(!graph.contains("fused:"), "nothing to fuse in\n{graph}");
    }
    for &(name, graph, text) in DOTS {
        let entry = entry(name);
        let dense = format!("dense: {}", entry.formula("matmul(x, w) + b"));
        let fused = format!("fused: {}", entry.formula("x * 1"));
        if graph.ends_with("Off") {
            // As written: the activations over a plain product and a plain
            // add, and over a plain multiplication.
            for expected in [
                label("dense", &entry.call()),
                label("in_tree", &entry.call()),
                "label=\"matmul\"".to_string(),
                "label=\"add\"".to_string(),
                "label=\"mul\"".to_string(),
            ] {
                assert!(
                    text.contains(&expected),
                    "{name}::{graph}: {expected}\n{text}"
                );
            }
            assert!(!text.contains("dense:"), "{name}::{graph}\n{text}");
            assert!(!text.contains("fused:"), "{name}::{graph}\n{text}");
        } else {
            for expected in [label("dense", &dense), label("in_tree", &fused)] {
                assert!(
                    text.contains(&expected),
                    "{name}::{graph}: {expected}\n{text}"
                );
            }
            // Nothing else computes: the product, the add and the
            // multiplication were absorbed.
            for absorbed in ["label=\"matmul\"", "label=\"add\"", "label=\"mul\""] {
                assert!(
                    !text.contains(absorbed),
                    "{name}::{graph}: {absorbed}\n{text}"
                );
            }
        }
    }
}

/// The summaries of a case's std graphs, optimized and not.
macro_rules! summaries {
    ($name:ident) => {
        [$name::Std::SUMMARY, $name::StdOff::SUMMARY]
    };
}

/// FLOPs per element, from `staticflow::summary`'s table: `silu` 5 (the
/// sigmoid's 4, then a multiply), `elu` 4 (compare, exp, subtract, scale),
/// `hard_sigmoid` 4 (multiply, add, max, min); `* 1.0` and the bias add 1
/// each; the product `2·19` per element.
#[test]
fn summary_counts_the_documented_flops() {
    /// The FLOPs of the node computing `name`, for a batch of `n` rows.
    fn node_flops(summary: &staticflow::Summary, name: &str, n: usize) -> u64 {
        summary
            .nodes
            .iter()
            .find(|node| node.name == Some(name))
            .unwrap_or_else(|| panic!("no node `{name}` in {summary}"))
            .flops
            .evaluate(&[("n", n)])
            .expect("only `n` is symbolic")
    }
    fn run_flops(summary: &staticflow::Summary, n: usize) -> u64 {
        summary
            .run
            .flops
            .evaluate(&[("n", n)])
            .expect("only `n` is symbolic")
    }
    const ROW: u64 = 19;
    for entry in ENTRIES {
        let cost = entry.cost;
        for summary in [Activations::SUMMARY, ActivationsOff::SUMMARY] {
            assert_eq!(node_flops(&summary, entry.name, 1), ROW * cost);
            assert_eq!(node_flops(&summary, entry.name, 7), 7 * ROW * cost);
        }
    }
    let total: u64 = ENTRIES.iter().map(|entry| entry.cost).sum();
    assert_eq!(total, 5 + 3 * 4 + 5 * 4);
    for summary in [Activations::SUMMARY, ActivationsOff::SUMMARY] {
        assert_eq!(run_flops(&summary, 1), ROW * total);
    }
    // 19 · 37 = 703 per row.
    assert_eq!(Activations::SUMMARY.run.flops.to_string(), "703·n");

    // The fused forms, per row of 19: `in_tree` is `* 1.0` then the op,
    // `dense` the product (2·19 per element), the bias add, then the op.
    // Fusing changes no count, so the `#[optimize(off)]` twin costs as much
    // in all.
    let check = |name: &str, cost: u64, [std, off]: [staticflow::Summary; 2]| {
        let in_tree = ROW * (1 + cost);
        let dense = 2 * ROW * ROW + ROW * (1 + cost);
        assert_eq!(node_flops(&std, "in_tree", 1), in_tree, "{name}");
        assert_eq!(node_flops(&std, "dense", 1), dense, "{name}");
        for summary in [std, off] {
            assert_eq!(run_flops(&summary, 3), 3 * (in_tree + dense), "{name}");
        }
    };
    check("silu", entry("silu").cost, summaries!(silu));
    check("elu", entry("elu_half").cost, summaries!(elu_half));
    check(
        "hard_sigmoid",
        entry("hard_sigmoid_pytorch").cost,
        summaries!(hard_sigmoid_pytorch),
    );
    // silu's dense node: 2·19·19 + 19·(1 + 5) = 722 + 114 per row.
    assert_eq!(node_flops(&silu::Std::SUMMARY, "dense", 1), 836);
}
