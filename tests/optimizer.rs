//! Optimized equals unoptimized (issue 16, point 5).
//!
//! Every graph here is written once and compiled twice by [`twins!`]: as
//! usual, and with `#[optimize(off)]`, which compiles it as written (no
//! rewrite, every value in a slot of its own, nothing in place, no packed
//! weights). The unoptimized twin is the reference: each node is one kernel
//! call as written, so its values do not depend on any optimizer decision.
//! Both twins get the same random variables and inputs (a seeded `SplitMix64`
//! generator, several seeds and batch sizes, some cases with NaN, ±∞, ±0
//! and subnormal inputs), and every output and every updated variable must
//! agree:
//!
//! - bit for bit ([`EXACT`], NaN equal to NaN) where both twins run the same
//!   kernels: constant folding computes exactly what the kernels compute
//!   (it folds only exact IEEE arithmetic), common subexpressions and dead
//!   nodes change what is computed, not how, a fused elementwise node calls
//!   the same `staticflow::scalar` functions as the unfused kernels, in the
//!   same order, and in-place kernels compute the same formula over another
//!   buffer;
//! - to [`RELATIVE`] times the largest magnitude of the reference value
//!   ([`ROUNDING`]) where the optimizer changes the order of `f32`
//!   arithmetic: a dense node starts each sum from the bias (the portable
//!   and `#[no_std]` kernels) or adds it in another place than a separate
//!   `+`, and a packed weight matrix is read by another product kernel
//!   (16-column panels) whose blocking sums in another order. Each such
//!   error is a rounding of a sum of products, so it scales with the
//!   magnitude of the terms, not with the (possibly cancelling) result,
//!   hence the norm-wise bound. NaN and infinities must still match
//!   exactly in kind.
//!
//! No test is vacuous: each asserts, through the public introspection, that
//! the rewrite it exercises happened in the optimized twin and not in the
//! reference (node labels of `DOT`, such as `dense: relu(matmul(x, w) + b)`
//! or `fused: ..`, node counts, `WORKSPACE_BYTES`, the type of `w_mut()` and
//! the size of the struct for packed copies), and that the reference twin's
//! `DOT` is its `DOT_AS_WRITTEN`.
//!
//! Graphs with literal shapes, no updates and only ops `#[no_std]` graphs
//! support are also compiled as `#[no_std]` twins ([`quads!`]) and checked
//! the same way on the slice kernels.

use staticflow::ndarray::{
    Array, ArrayBase, ArrayD, ArrayViewD, Data, Dimension, IxDyn, ShapeBuilder,
};
use staticflow::summary::Summary;
use staticflow::weights::{save_safetensors, SafeTensors};
use staticflow::Dim;

/// Compiles one graph body twice: `$opt` optimized, `$off` with
/// `#[optimize(off)]`; attributes given first (`#[no_std]`) go to both.
macro_rules! twins {
    ($(#[$attr:meta])* $opt:ident, $off:ident { $($body:tt)* }) => {
        staticflow::graph! {
            $(#[$attr])*
            struct $opt { $($body)* }
        }
        staticflow::graph! {
            $(#[$attr])*
            #[optimize(off)]
            struct $off { $($body)* }
        }
    };
}

/// Compiles one graph body four times: optimized and unoptimized twins on
/// the std path, and again as `#[no_std]` graphs.
macro_rules! quads {
    ($opt:ident, $off:ident, $bare:ident, $bare_off:ident { $($body:tt)* }) => {
        twins!($opt, $off { $($body)* });
        twins!(#[no_std] $bare, $bare_off { $($body)* });
    };
}

/// Both std twins, their variables set to the same random values (one
/// safetensors file of every variable the summary lists, loaded strictly
/// into each).
macro_rules! pair {
    ($opt:ident, $off:ident, $rng:expr) => {{
        let bytes = $crate::random_variables(&$opt::SUMMARY, $rng);
        let load =
            |bytes: Vec<u8>| staticflow::weights::Weights::from_safetensors_bytes(bytes).unwrap();
        (
            $opt::from_weights(load(bytes.clone()), true).unwrap(),
            $off::from_weights(load(bytes), true).unwrap(),
        )
    }};
}

/// What every pair of twins shows, whatever it exercises: the reference is
/// compiled as written (its `DOT` is its `DOT_AS_WRITTEN`), and both were
/// written alike (their `DOT_AS_WRITTEN` differ only in the struct's name).
macro_rules! written_alike {
    ($opt:ident, $off:ident) => {
        $crate::written_alike(
            (stringify!($opt), $opt::DOT_AS_WRITTEN),
            (stringify!($off), $off::DOT_AS_WRITTEN, $off::DOT),
        )
    };
}

/// `.unwrap()` on the std path; `#[no_std]` entry points cannot fail.
macro_rules! ok {
    (std, $e:expr) => {
        $e.unwrap()
    };
    (bare, $e:expr) => {
        $e
    };
}

/// Runs both twins on the same inputs through `run` (a fresh workspace each
/// call) and `run_with` (the workspaces given, reused across calls of any
/// size), and compares every output with its tolerance. The list must name
/// every output of `$graph` (as its `DOT` shows them).
macro_rules! run_agree {
    ($path:ident $graph:ident: $opt:expr, $off:expr, $wa:expr, $wb:expr,
     ($($input:expr),* $(,)?), { $($field:ident: $tol:expr),+ $(,)? }) => {{
        $crate::covers_outputs($graph::DOT, &[$(stringify!($field)),+]);
        let optimized = ok!($path, $opt.run($($input),*));
        let reference = ok!($path, $off.run($($input),*));
        $(
            $crate::agree(
                concat!(stringify!($graph), ".run: ", stringify!($field)),
                $tol,
                &optimized.$field,
                &reference.$field,
            );
        )+
        let optimized = ok!($path, $opt.run_with($wa, $($input),*));
        let reference = ok!($path, $off.run_with($wb, $($input),*));
        $(
            $crate::agree(
                concat!(stringify!($graph), ".run_with: ", stringify!($field)),
                $tol,
                &optimized.$field,
                &reference.$field,
            );
        )+
    }};
}

/// Compares every variable of two std twins (all of them: the safetensors
/// bytes each saves).
macro_rules! variables_agree {
    ($tol:expr, $opt:expr, $off:expr) => {
        $crate::variables_agree(
            $tol,
            &$opt.to_safetensors_bytes(),
            &$off.to_safetensors_bytes(),
        )
    };
}

/// One step on both twins with the same inputs: `update` on even steps,
/// `update_with` (the workspaces given, reused) on odd ones.
macro_rules! update_both {
    ($step:expr, $opt:expr, $off:expr, $wa:expr, $wb:expr, ($($input:expr),* $(,)?)) => {
        if $step.is_multiple_of(2) {
            $opt.update($($input),*).unwrap();
            $off.update($($input),*).unwrap();
        } else {
            $opt.update_with($wa, $($input),*).unwrap();
            $off.update_with($wb, $($input),*).unwrap();
        }
    };
}

#[path = "optimizer/fusion.rs"]
mod fusion;
#[path = "optimizer/models.rs"]
mod models;
#[path = "optimizer/rewrites.rs"]
mod rewrites;
#[path = "optimizer/storage.rs"]
mod storage;
#[path = "optimizer/training.rs"]
mod training;

/// How closely an optimized value must match the reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tolerance {
    /// Bit for bit; any NaN matches any NaN.
    Exact,
    /// Within [`RELATIVE`] of the reference's largest finite magnitude
    /// (at least 1); NaN, infinities and their signs must match.
    Rounding,
}

const EXACT: Tolerance = Tolerance::Exact;
const ROUNDING: Tolerance = Tolerance::Rounding;

/// The bound of [`ROUNDING`]: the sums reordered here have at most a few
/// dozen terms of magnitude up to a few units, each rounding error is
/// 2⁻²⁴ of a partial sum, so their differences stay far below this.
const RELATIVE: f32 = 1e-5;

/// One run of a test: the generator's seed, the size of the symbolic batch
/// dims (literal graphs ignore it), and whether inputs include special
/// values.
#[derive(Clone, Copy, Debug)]
struct Case {
    seed: u64,
    n: usize,
    specials: bool,
}

/// Batches of 1 and more, growing then shrinking (workspaces are reused
/// across cases), with and without special values.
const CASES: [Case; 4] = [
    Case {
        seed: 0x5eed_0001,
        n: 1,
        specials: false,
    },
    Case {
        seed: 0x5eed_0002,
        n: 3,
        specials: false,
    },
    Case {
        seed: 0x5eed_0003,
        n: 8,
        specials: true,
    },
    Case {
        seed: 0x5eed_0004,
        n: 2,
        specials: true,
    },
];

impl Case {
    fn rng(self) -> Rng {
        Rng {
            state: self.seed,
            specials: self.specials,
        }
    }
}

/// Inputs that are not plain numbers: NaN, infinities, signed zeros, a
/// subnormal, and values large enough that `exp` of them is huge.
const SPECIALS: [f32; 8] = [
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    0.0,
    -0.0,
    1.0e-40,
    60.0,
    -60.0,
];

/// `SplitMix64`: a seeded generator, so every failure reproduces.
struct Rng {
    state: u64,
    specials: bool,
}

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [-2, 2), a multiple of 2⁻²².
    fn uniform(&mut self) -> f32 {
        let top = u32::try_from(self.next_u64() >> 40).expect("24 bits fit a u32");
        top as f32 / (1 << 22) as f32 - 2.0
    }

    /// An input value: uniform, or in special cases one in 8 a special value.
    fn value(&mut self) -> f32 {
        if self.specials && self.next_u64().is_multiple_of(8) {
            SPECIALS[self.index(SPECIALS.len())]
        } else {
            self.uniform()
        }
    }

    /// Uniform in `0..bound`.
    fn index(&mut self, bound: usize) -> usize {
        let bound = u64::try_from(bound).expect("a small bound");
        usize::try_from(self.next_u64() % bound).expect("below a usize bound")
    }

    /// An input array of input values.
    fn array<Sh, D>(&mut self, shape: Sh) -> Array<f32, D>
    where
        Sh: ShapeBuilder<Dim = D>,
        D: Dimension,
    {
        Array::from_shape_simple_fn(shape, || self.value())
    }

    /// An array of indices in `0..bound`.
    fn indices<Sh, D>(&mut self, shape: Sh, bound: usize) -> Array<usize, D>
    where
        Sh: ShapeBuilder<Dim = D>,
        D: Dimension,
    {
        Array::from_shape_simple_fn(shape, || self.index(bound))
    }

    /// A value of a fixed-size type (`f32`, nested arrays of it), for
    /// `#[no_std]` graphs.
    fn fill<T: Random>(&mut self) -> T {
        T::random(self)
    }
}

trait Random {
    fn random(rng: &mut Rng) -> Self;
}

impl Random for f32 {
    fn random(rng: &mut Rng) -> Self {
        rng.value()
    }
}

impl<T: Random, const N: usize> Random for [T; N] {
    fn random(rng: &mut Rng) -> Self {
        std::array::from_fn(|_| T::random(rng))
    }
}

/// One element of an output, as an `f32` (indices and masks are small).
trait Element: Copy {
    fn to_f32(self) -> f32;
}

impl Element for f32 {
    fn to_f32(self) -> f32 {
        self
    }
}

impl Element for usize {
    fn to_f32(self) -> f32 {
        self as f32
    }
}

impl Element for bool {
    fn to_f32(self) -> f32 {
        f32::from(u8::from(self))
    }
}

/// An output's shape and elements, in row-major order: scalars, ndarray
/// arrays and views, and the nested arrays of `#[no_std]` graphs.
trait Values {
    fn shape(&self) -> Vec<usize>;
    fn values(&self) -> Vec<f32>;
}

impl<E: Element> Values for E {
    fn shape(&self) -> Vec<usize> {
        Vec::new()
    }
    fn values(&self) -> Vec<f32> {
        vec![self.to_f32()]
    }
}

impl<T: Values, const N: usize> Values for [T; N] {
    fn shape(&self) -> Vec<usize> {
        let mut shape = vec![N];
        shape.extend(self.first().map(Values::shape).unwrap_or_default());
        shape
    }
    fn values(&self) -> Vec<f32> {
        self.iter().flat_map(Values::values).collect()
    }
}

impl<S, D> Values for ArrayBase<S, D>
where
    S: Data,
    S::Elem: Element,
    D: Dimension,
{
    fn shape(&self) -> Vec<usize> {
        ArrayBase::shape(self).to_vec()
    }
    fn values(&self) -> Vec<f32> {
        self.iter().map(|e| e.to_f32()).collect()
    }
}

/// The optimized value agrees with the reference, to `tolerance`.
#[track_caller]
fn agree<T: Values + ?Sized>(what: &str, tolerance: Tolerance, optimized: &T, reference: &T) {
    assert_eq!(optimized.shape(), reference.shape(), "{what}: shapes");
    let (optimized, reference) = (optimized.values(), reference.values());
    let scale = reference
        .iter()
        .filter(|v| v.is_finite())
        .fold(1.0_f32, |m, v| m.max(v.abs()));
    for (i, (&a, &b)) in optimized.iter().zip(&reference).enumerate() {
        let same = match tolerance {
            Tolerance::Exact => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            Tolerance::Rounding => {
                (a.is_nan() && b.is_nan())
                    || a == b
                    || (a.is_finite() && b.is_finite() && (a - b).abs() <= RELATIVE * scale)
            }
        };
        assert!(
            same,
            "{what}, element {i}: optimized {a:e} ({:#010x}), unoptimized {b:e} ({:#010x}), \
             {tolerance:?}, scale {scale:e}",
            a.to_bits(),
            b.to_bits()
        );
    }
}

/// Every variable of two twins' saved files agrees, to `tolerance`.
#[track_caller]
fn variables_agree(tolerance: Tolerance, optimized: &[u8], reference: &[u8]) {
    let optimized = SafeTensors::parse(optimized).unwrap();
    let reference = SafeTensors::parse(reference).unwrap();
    let names: Vec<&str> = reference.names().collect();
    assert_eq!(optimized.names().collect::<Vec<_>>(), names);
    assert!(!names.is_empty(), "the graph has variables");
    for name in names {
        let a = optimized.get(name).and_then(|t| t.to_f32_array()).unwrap();
        let b = reference.get(name).and_then(|t| t.to_f32_array()).unwrap();
        agree(&format!("variable `{name}`"), tolerance, &a, &b);
    }
}

/// A safetensors file with uniform random values for every variable of the
/// graph `summary` describes.
fn random_variables(summary: &Summary, rng: &mut Rng) -> Vec<u8> {
    let arrays: Vec<(&str, ArrayD<f32>)> = summary
        .nodes
        .iter()
        .filter(|node| node.op == "var")
        .map(|node| {
            let shape: Vec<usize> = node
                .shape
                .iter()
                .map(|dim| match dim {
                    Dim::Fixed(size) => *size,
                    Dim::Symbol(symbol) => panic!("variables have literal shapes, not `{symbol}`"),
                })
                .collect();
            let name = node.name.expect("variables are named");
            (
                name,
                ArrayD::from_shape_simple_fn(IxDyn(&shape), || rng.uniform()),
            )
        })
        .collect();
    let views: Vec<(&str, ArrayViewD<'_, f32>)> =
        arrays.iter().map(|(name, a)| (*name, a.view())).collect();
    save_safetensors(&views)
}

/// The labels of a DOT text's graph nodes (`n<i>`), in order, unescaped:
/// `name\nop` for a named op, `op` for an unnamed one, `name = value` for a
/// named scalar constant, `name\n[shape]` for inputs, variables and named
/// array constants, `fused: ..` and `dense: ..` for the optimizer's nodes.
fn labels(dot: &str) -> Vec<String> {
    markers(dot, "n")
}

/// The labels of the output markers: the outputs' names.
fn outputs(dot: &str) -> Vec<String> {
    markers(dot, "output")
}

/// Labels of the node statements whose id is `prefix` and digits.
fn markers(dot: &str, prefix: &str) -> Vec<String> {
    dot.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let (id, rest) = line.split_once(" [label=\"")?;
            let digits = id.strip_prefix(prefix)?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let mut label = String::new();
            let mut chars = rest.chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => return Some(label),
                    '\\' => match chars.next() {
                        Some('n') => label.push('\n'),
                        Some(other) => label.push(other),
                        None => break,
                    },
                    other => label.push(other),
                }
            }
            panic!("unterminated label in {line}")
        })
        .collect()
}

/// The label of the one node the user named `name` (its first line is the
/// name, or `name = value`).
#[track_caller]
fn label_of(dot: &str, name: &str) -> String {
    let found: Vec<String> = labels(dot)
        .into_iter()
        .filter(|label| {
            let first = label.lines().next().unwrap_or_default();
            first == name || first.starts_with(&format!("{name} = "))
        })
        .collect();
    assert_eq!(found.len(), 1, "one node named `{name}` in\n{dot}");
    found.into_iter().next().unwrap_or_default()
}

/// How many nodes compute `op`: their label's last line starts with it
/// (`softmax` counts `softmax(axis=-1)`; `fused:` and `dense:` count the
/// optimizer's nodes).
fn count(dot: &str, op: &str) -> usize {
    labels(dot)
        .iter()
        .filter(|label| label.lines().last().unwrap_or_default().starts_with(op))
        .count()
}

/// The outputs listed for comparison are exactly the graph's.
#[track_caller]
fn covers_outputs(dot: &str, listed: &[&str]) {
    let mut all = outputs(dot);
    let mut listed: Vec<String> = listed.iter().map(ToString::to_string).collect();
    all.sort();
    listed.sort();
    assert_eq!(listed, all, "every output is compared");
}

/// Fresh workspaces for a pair of twins (their types inferred from the
/// `run_with` or `update_with` calls they serve).
fn workspaces<A: Default, B: Default>() -> (A, B) {
    (A::default(), B::default())
}

/// See [`written_alike!`].
#[track_caller]
fn written_alike(
    (opt, opt_written): (&str, &str),
    (off, off_written, off_dot): (&str, &str, &str),
) {
    assert_eq!(off_dot, off_written, "`{off}` is compiled as written");
    let anonymous = |text: &str, name: &str| text.replace(&format!("\"{name}\""), "\"G\"");
    assert_eq!(
        anonymous(opt_written, opt),
        anonymous(off_written, off),
        "`{opt}` and `{off}` are written alike"
    );
}

#[test]
fn the_generator_is_seeded_and_spread() {
    let mut a = CASES[0].rng();
    let mut b = CASES[0].rng();
    let draws: Vec<f32> = (0..1000).map(|_| a.uniform()).collect();
    assert!(draws.iter().all(|&v| (-2.0..2.0).contains(&v)));
    assert!(draws.iter().any(|&v| v < -1.5) && draws.iter().any(|&v| v > 1.5));
    assert_eq!(draws, (0..1000).map(|_| b.uniform()).collect::<Vec<_>>());
    let mut special = CASES[2].rng();
    let values: Vec<f32> = (0..1000).map(|_| special.value()).collect();
    assert!(values.iter().any(|v| v.is_nan()) && values.iter().any(|v| v.is_infinite()));
}

#[test]
fn the_comparison_is_strict_where_it_should_be() {
    let run = |tolerance, a: f32, b: f32| {
        std::panic::catch_unwind(|| agree("value", tolerance, &a, &b)).is_ok()
    };
    assert!(run(EXACT, f32::NAN, -f32::NAN));
    assert!(!run(EXACT, 0.0, -0.0));
    assert!(!run(EXACT, 1.0, 1.0 + f32::EPSILON));
    assert!(run(ROUNDING, 1.0, 1.0 + f32::EPSILON));
    assert!(run(ROUNDING, 0.0, -0.0));
    assert!(!run(ROUNDING, f32::NAN, 1.0));
    assert!(!run(ROUNDING, f32::INFINITY, f32::NEG_INFINITY));
    assert!(!run(ROUNDING, 1.0, 1.001));
}
