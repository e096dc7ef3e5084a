//! `batch_norm` in a training step's forward pass: the batch's statistics,
//! the running statistics' moving averages, and gradients through the batch
//! statistics; outputs keep the running statistics.
//!
//! - Against JAX (`tests/reference/fixtures/training/batch_norm_steps.json`,
//!   written by `tests/reference/training_forms.py`, float64): five SGD
//!   steps of a net `x → matmul → batch_norm → relu (→ dropout) → dense →
//!   cross-entropy`, each step's returned loss, the trained parameters and
//!   the running statistics after the steps, and the inference form (the
//!   outputs) afterwards; compiled as usual and with `#[optimize(off)]`,
//!   and resumed from saved state bit for bit.
//! - Against `f64` finite differences computed here: the gradients of
//!   `sum(batch_norm(x, ..)·r)` in its training form with respect to `x`,
//!   `scale` and `offset` (read off an SGD step with `lr = 1`), for inputs of
//!   rank 2 and 4, with the step's loss and running statistics against the
//!   `f64` formulas, and the output `loss` against the inference formula.

mod common;
mod training_fixtures;

use staticflow::graph;
use staticflow::ndarray::{Array1, Array2, ArrayD, ArrayView, ArrayView1, ArrayView2, IxDyn};
use staticflow::weights::Weights;

use common::Json;
use training_fixtures::{
    assert_scalar, assert_tensor, field, floats, labels, load, named, tensor, Tolerance, LOSSES,
    TENSORS,
};

// ------------------------------------------------------------ against JAX

/// The net of `training_forms.py`, with `relu` (`BatchNormNet`) or
/// `dropout(relu(..))` (`BatchNormDropoutNet`) after the normalisation.
macro_rules! batch_norm_net {
    ($(#[$attr:meta])* $name:ident) => {
        graph! {
            $(#[$attr])*
            struct $name {
                input x: [n, 5];
                input labels: [n] as usize;
                var w1: [5, 6];
                var gamma: [6];
                var beta: [6];
                var w2: [6, 3];
                var b2: [3];
                var moving_mean: [6];
                var moving_variance: [6];
                let h = matmul(x, w1);
                let normalized = batch_norm(h, moving_mean, moving_variance, gamma, beta, epsilon = 0.001, momentum = 0.9);
                output logits = matmul(relu(normalized), w2) + b2;
                output loss = mean(softmax_cross_entropy(logits, labels));
                step fit = minimize(loss, sgd(lr = 0.1));
            }
        }
    };
}

macro_rules! batch_norm_dropout_net {
    ($(#[$attr:meta])* $name:ident) => {
        graph! {
            $(#[$attr])*
            struct $name {
                input x: [n, 5];
                input labels: [n] as usize;
                var w1: [5, 6];
                var gamma: [6];
                var beta: [6];
                var w2: [6, 3];
                var b2: [3];
                var moving_mean: [6];
                var moving_variance: [6];
                let h = matmul(x, w1);
                let normalized = batch_norm(h, moving_mean, moving_variance, gamma, beta, epsilon = 0.001, momentum = 0.9);
                let kept = dropout(relu(normalized), rate = 0.25, seed = 5);
                output logits = matmul(kept, w2) + b2;
                output loss = mean(softmax_cross_entropy(logits, labels));
                step fit = minimize(loss, sgd(lr = 0.1));
            }
        }
    };
}

batch_norm_net!(BatchNormNet);
batch_norm_net!(
    #[optimize(off)]
    BatchNormNetPlain
);
batch_norm_dropout_net!(BatchNormDropoutNet);
batch_norm_dropout_net!(
    #[optimize(off)]
    BatchNormDropoutNetPlain
);

/// The variables of the fixture's `initial` and `final`, in declaration
/// order.
const VARIABLES: [&str; 7] = [
    "w1",
    "gamma",
    "beta",
    "w2",
    "b2",
    "moving_mean",
    "moving_variance",
];

/// What the tests ask of each of the four nets.
trait Net: Sized {
    fn create(initial: &Json) -> Self;
    fn fit(&mut self, x: ArrayView2<'_, f32>, labels: ArrayView1<'_, usize>) -> f32;
    fn logits(&self, x: ArrayView2<'_, f32>) -> Array2<f32>;
    fn loss(&self, x: ArrayView2<'_, f32>, labels: ArrayView1<'_, usize>) -> f32;
    fn variable(&self, name: &str) -> ArrayD<f32>;
    fn bytes(&self) -> Vec<u8>;
    fn from_bytes(bytes: Vec<u8>) -> Self;
}

macro_rules! net {
    ($ty:ident) => {
        impl Net for $ty {
            fn create(initial: &Json) -> Self {
                $ty::new(
                    tensor(field(initial, "w1")),
                    tensor(field(initial, "gamma")),
                    tensor(field(initial, "beta")),
                    tensor(field(initial, "w2")),
                    tensor(field(initial, "b2")),
                    tensor(field(initial, "moving_mean")),
                    tensor(field(initial, "moving_variance")),
                )
                .unwrap()
            }
            fn fit(&mut self, x: ArrayView2<'_, f32>, labels: ArrayView1<'_, usize>) -> f32 {
                $ty::fit(self, x, labels).unwrap()
            }
            fn logits(&self, x: ArrayView2<'_, f32>) -> Array2<f32> {
                $ty::logits(self, x).unwrap()
            }
            fn loss(&self, x: ArrayView2<'_, f32>, labels: ArrayView1<'_, usize>) -> f32 {
                $ty::loss(self, x, labels).unwrap()
            }
            fn variable(&self, name: &str) -> ArrayD<f32> {
                match name {
                    "w1" => self.w1().to_owned().into_dyn(),
                    "gamma" => self.gamma().to_owned().into_dyn(),
                    "beta" => self.beta().to_owned().into_dyn(),
                    "w2" => self.w2().to_owned().into_dyn(),
                    "b2" => self.b2().to_owned().into_dyn(),
                    "moving_mean" => self.moving_mean().to_owned().into_dyn(),
                    "moving_variance" => self.moving_variance().to_owned().into_dyn(),
                    other => panic!("no variable `{other}`"),
                }
            }
            fn bytes(&self) -> Vec<u8> {
                self.to_safetensors_bytes()
            }
            fn from_bytes(bytes: Vec<u8>) -> Self {
                $ty::from_weights(Weights::from_safetensors_bytes(bytes).unwrap(), true).unwrap()
            }
        }
    };
}

net!(BatchNormNet);
net!(BatchNormNetPlain);
net!(BatchNormDropoutNet);
net!(BatchNormDropoutNetPlain);

fn fixture() -> Json {
    load("batch_norm_steps")
}

/// Five steps of the fixture's run `run` from its initial values: every
/// loss, the final parameters and running statistics, and the outputs.
fn follows_jax<M: Net>(run: &str) -> M {
    let fixture = fixture();
    let expected = named(field(&fixture, "runs"), run);
    let x: Array2<f32> = tensor(field(&fixture, "x"));
    let labels = labels(field(&fixture, "labels"));
    let mut model = M::create(field(&fixture, "initial"));
    let steps = field(&fixture, "steps").index();
    for (step, &loss) in floats(field(expected, "losses")).iter().enumerate() {
        let got = model.fit(x.view(), labels.view());
        assert_scalar(
            &format!("{run}: loss of step {}", step + 1),
            got,
            loss.into(),
            LOSSES,
        );
    }
    assert_eq!(steps, 5);
    let last = field(expected, "final");
    for name in VARIABLES {
        let want: ArrayD<f32> = tensor(field(last, name));
        assert_tensor(
            &format!("{run}: `{name}` after the steps"),
            &model.variable(name).view(),
            &want.view(),
            TENSORS,
        );
    }
    // The outputs: the running statistics, no dropout.
    let x_eval: Array2<f32> = tensor(field(&fixture, "x_eval"));
    let want: Array2<f32> = tensor(field(expected, "eval_logits"));
    assert_tensor(
        &format!("{run}: logits of the inference form"),
        &model.logits(x_eval.view()).view(),
        &want.view(),
        TENSORS,
    );
    let want = training_fixtures::single(field(expected, "eval_loss"));
    assert_scalar(
        &format!("{run}: loss of the inference form"),
        model.loss(x.view(), labels.view()),
        want.into(),
        LOSSES,
    );
    model
}

#[test]
fn batch_norm_steps_follow_jax() {
    let optimized: BatchNormNet = follows_jax("batch_norm");
    let plain: BatchNormNetPlain = follows_jax("batch_norm");
    // The optimizer only reorders sums: the twins agree closely.
    for name in VARIABLES {
        assert_tensor(
            &format!("`{name}`, optimized against #[optimize(off)]"),
            &optimized.variable(name).view(),
            &plain.variable(name).view(),
            Tolerance {
                rel: 1e-5,
                abs: 1e-6,
            },
        );
    }
}

#[test]
fn batch_norm_and_dropout_steps_follow_jax() {
    let optimized: BatchNormDropoutNet = follows_jax("batch_norm_dropout");
    let plain: BatchNormDropoutNetPlain = follows_jax("batch_norm_dropout");
    // Both counted five steps.
    assert_eq!(optimized.fit_dropout_count_low(), 5.0);
    assert_eq!(plain.fit_dropout_count_low(), 5.0);
    assert_eq!(optimized.fit_dropout_count_high(), 0.0);
}

/// Two steps, saved and loaded into a fresh struct, then three more: the
/// same bits as five steps in a row (the running statistics and, with
/// dropout, the step counter are saved with the parameters).
fn resumes_exactly<M: Net>() {
    let fixture = fixture();
    let x: Array2<f32> = tensor(field(&fixture, "x"));
    let labels = labels(field(&fixture, "labels"));
    let mut straight = M::create(field(&fixture, "initial"));
    let mut first = M::create(field(&fixture, "initial"));
    let mut straight_losses = Vec::new();
    for _ in 0..5 {
        straight_losses.push(straight.fit(x.view(), labels.view()).to_bits());
    }
    let mut losses = Vec::new();
    for _ in 0..2 {
        losses.push(first.fit(x.view(), labels.view()).to_bits());
    }
    let mut resumed = M::from_bytes(first.bytes());
    for _ in 0..3 {
        losses.push(resumed.fit(x.view(), labels.view()).to_bits());
    }
    assert_eq!(losses, straight_losses);
    assert_eq!(resumed.bytes(), straight.bytes());
}

#[test]
fn resuming_from_saved_state_continues_exactly() {
    resumes_exactly::<BatchNormNet>();
    resumes_exactly::<BatchNormDropoutNet>();
    // The dropout net saves its counter; the other net has none.
    let fixture = fixture();
    let names = |bytes: Vec<u8>| -> Vec<String> {
        let weights = Weights::from_safetensors_bytes(bytes).unwrap();
        let mut names: Vec<String> = weights.names().map(String::from).collect();
        names.sort();
        names
    };
    let with = names(BatchNormDropoutNet::create(field(&fixture, "initial")).bytes());
    assert!(
        with.contains(&"fit_dropout_count_low".to_string()),
        "{with:?}"
    );
    assert!(
        with.contains(&"fit_dropout_count_high".to_string()),
        "{with:?}"
    );
    let without = names(BatchNormNet::create(field(&fixture, "initial")).bytes());
    assert_eq!(without.len(), VARIABLES.len(), "{without:?}");
}

// ---------------------------------------------- against finite differences

/// `sum(batch_norm(x, ..)·r)` in a step that trains `x` (a variable here,
/// so that its gradient is the step's change), `scale` and `offset` by SGD
/// with `lr = 1`.
macro_rules! weighted_batch_norm {
    ($name:ident, [$($dim:literal),*]) => {
        graph! {
            struct $name {
                input r: [$($dim),*];
                var x: [$($dim),*];
                var mean: [3];
                var variance: [3];
                var scale: [3];
                var offset: [3];
                output loss = sum(batch_norm(x, mean, variance, scale, offset, epsilon = 0.01, momentum = 0.8) * r);
                step fit = minimize(loss, sgd(lr = 1.0), vars = [x, scale, offset]);
            }
        }
    };
}

weighted_batch_norm!(WeightedRows, [5, 3]);
weighted_batch_norm!(WeightedImages, [2, 2, 2, 3]);

const EPSILON: f64 = 0.01;
const MOMENTUM: f64 = 0.8;

/// `SplitMix64`: the test's inputs, reproducible.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 24 random bits: exact in f32.
        f64::from(u32::try_from(z >> 40).unwrap()) / f64::from(1_u32 << 24)
    }

    /// Values in `[lo, hi)`, exactly representable in `f32`.
    #[allow(clippy::cast_possible_truncation)]
    fn array(&mut self, shape: &[usize], lo: f64, hi: f64) -> ArrayD<f32> {
        ArrayD::from_shape_simple_fn(IxDyn(shape), || (lo + (hi - lo) * self.uniform()) as f32)
    }
}

/// The statistics and the training form in `f64`, per feature over every
/// row: `(x − μ)/√(σ² + ε)·scale + offset`, `σ²` biased.
struct Reference {
    mean: Vec<f64>,
    variance: Vec<f64>,
    out: Vec<f64>,
}

fn training_form(x: &[f64], scale: &[f64], offset: &[f64]) -> Reference {
    let c = scale.len();
    let rows = x.len() / c;
    #[allow(clippy::cast_precision_loss)]
    let count = rows as f64;
    let mut mean = vec![0.0; c];
    let mut variance = vec![0.0; c];
    for (i, v) in x.iter().enumerate() {
        mean[i % c] += v / count;
    }
    for (i, v) in x.iter().enumerate() {
        variance[i % c] += (v - mean[i % c]).powi(2) / count;
    }
    let out = x
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let k = i % c;
            (v - mean[k]) / (variance[k] + EPSILON).sqrt() * scale[k] + offset[k]
        })
        .collect();
    Reference {
        mean,
        variance,
        out,
    }
}

fn weighted(x: &[f64], scale: &[f64], offset: &[f64], r: &[f64]) -> f64 {
    let reference = training_form(x, scale, offset);
    reference.out.iter().zip(r).map(|(y, r)| y * r).sum()
}

fn wide(a: &ArrayView<'_, f32, IxDyn>) -> Vec<f64> {
    a.iter().map(|&v| f64::from(v)).collect()
}

/// `|g − fd| ≤ 1e-4·max(1, |fd|)` for every element, `fd` the central
/// difference of `loss` at `point` with `h = 1e-5·max(1, |pointᵢ|)`.
/// (`f64` differences of an `f64` loss of `O(1)` terms are accurate to far
/// better than that; the `f32` gradient, read as the difference of two
/// `f32` values near 1, to about `1e-7`.)
#[track_caller]
fn assert_gradient(context: &str, got: &[f64], point: &[f64], loss: &dyn Fn(&[f64]) -> f64) {
    assert_eq!(got.len(), point.len());
    let mut worst: f64 = 0.0;
    for i in 0..point.len() {
        let h = 1e-5 * point[i].abs().max(1.0);
        let (mut up, mut down) = (point.to_vec(), point.to_vec());
        up[i] += h;
        down[i] -= h;
        let fd = (loss(&up) - loss(&down)) / (2.0 * h);
        let error = (got[i] - fd).abs() / fd.abs().max(1.0);
        assert!(
            error <= 1e-4,
            "{context}[{i}]: {} vs finite difference {fd}",
            got[i]
        );
        worst = worst.max(error);
    }
    println!("{context}: worst relative error {worst:.1e}");
}

/// What one step of `WeightedRows` or `WeightedImages` is checked against.
struct Before {
    r: ArrayD<f32>,
    x: ArrayD<f32>,
    mean: Array1<f32>,
    variance: Array1<f32>,
    scale: Array1<f32>,
    offset: Array1<f32>,
}

struct After {
    loss: f32,
    output_loss: f32,
    x: ArrayD<f32>,
    mean: Array1<f32>,
    variance: Array1<f32>,
    scale: Array1<f32>,
    offset: Array1<f32>,
}

fn check_step(context: &str, before: &Before, after: &After) {
    let (r, x) = (wide(&before.r.view()), wide(&before.x.view()));
    let vector = |a: &Array1<f32>| a.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
    let (scale, offset) = (vector(&before.scale), vector(&before.offset));
    let (mean, variance) = (vector(&before.mean), vector(&before.variance));
    // The output uses the running statistics given (the inference form).
    let c = scale.len();
    let inference: f64 = x
        .iter()
        .zip(&r)
        .enumerate()
        .map(|(i, (v, r))| {
            let k = i % c;
            ((v - mean[k]) / (variance[k] + EPSILON).sqrt() * scale[k] + offset[k]) * r
        })
        .sum();
    let tight = Tolerance {
        rel: 1e-5,
        abs: 1e-5,
    };
    assert_scalar(
        &format!("{context}: output `loss`"),
        after.output_loss,
        inference,
        tight,
    );
    // The step's forward pass uses the batch's.
    let reference = training_form(&x, &scale, &offset);
    assert_scalar(
        &format!("{context}: the step's loss"),
        after.loss,
        weighted(&x, &scale, &offset, &r),
        tight,
    );
    // Running averages: m·running + (1 − m)·batch, the variance biased.
    for k in 0..c {
        let m = MOMENTUM;
        assert_scalar(
            &format!("{context}: running mean {k}"),
            after.mean[k],
            m * mean[k] + (1.0 - m) * reference.mean[k],
            tight,
        );
        assert_scalar(
            &format!("{context}: running variance {k}"),
            after.variance[k],
            m * variance[k] + (1.0 - m) * reference.variance[k],
            tight,
        );
    }
    // With lr = 1 each gradient is the change of its variable.
    let change = |old: &[f64], new: &[f64]| -> Vec<f64> {
        old.iter().zip(new).map(|(a, b)| a - b).collect()
    };
    let d_x = change(&x, &wide(&after.x.view()));
    assert_gradient(&format!("{context}: d/dx"), &d_x, &x, &|x| {
        weighted(x, &scale, &offset, &r)
    });
    let d_scale = change(&scale, &vector(&after.scale));
    assert_gradient(&format!("{context}: d/dscale"), &d_scale, &scale, &|s| {
        weighted(&x, s, &offset, &r)
    });
    let d_offset = change(&offset, &vector(&after.offset));
    assert_gradient(&format!("{context}: d/doffset"), &d_offset, &offset, &|o| {
        weighted(&x, &scale, o, &r)
    });
}

macro_rules! one_step {
    ($ty:ident, $rng:expr, $shape:expr) => {{
        let rng: &mut Rng = $rng;
        let shape: &[usize] = $shape;
        let before = Before {
            r: rng.array(shape, -1.0, 1.0),
            x: rng.array(shape, -2.0, 3.0),
            mean: rng.array(&[3], -0.5, 0.5).into_dimensionality().unwrap(),
            variance: rng.array(&[3], 0.5, 2.0).into_dimensionality().unwrap(),
            scale: rng.array(&[3], 0.5, 1.5).into_dimensionality().unwrap(),
            offset: rng.array(&[3], -0.5, 0.5).into_dimensionality().unwrap(),
        };
        let mut model = $ty::new(
            before.x.clone().into_dimensionality().unwrap(),
            before.mean.clone(),
            before.variance.clone(),
            before.scale.clone(),
            before.offset.clone(),
        )
        .unwrap();
        let r = before.r.view().into_dimensionality().unwrap();
        let output_loss = model.loss(r).unwrap();
        let loss = model.fit(r).unwrap();
        let after = After {
            loss,
            output_loss,
            x: model.x().to_owned().into_dyn(),
            mean: model.mean().to_owned(),
            variance: model.variance().to_owned(),
            scale: model.scale().to_owned(),
            offset: model.offset().to_owned(),
        };
        (before, after)
    }};
}

#[test]
fn training_gradients_match_finite_differences() {
    let mut rng = Rng(2026);
    for round in 0..3 {
        let (before, after) = one_step!(WeightedRows, &mut rng, &[5, 3]);
        check_step(&format!("[5, 3] #{round}"), &before, &after);
        let (before, after) = one_step!(WeightedImages, &mut rng, &[2, 2, 2, 3]);
        check_step(&format!("[2, 2, 2, 3] #{round}"), &before, &after);
    }
}

/// `docs/NUMERICS.md`: a NaN in `x` makes its feature's batch statistics
/// NaN, so that feature (in every row) and its running statistics; the other
/// features are untouched.
#[test]
fn a_nan_reaches_its_whole_feature_only() {
    let mut x = Array2::from_shape_fn((5, 3), |(i, j)| (i * 3 + j) as f32 * 0.25);
    x[[2, 1]] = f32::NAN;
    let ones = Array1::from_elem(3, 1.0);
    let mut model =
        WeightedRows::new(x, Array1::zeros(3), ones.clone(), ones, Array1::zeros(3)).unwrap();
    let r = Array2::from_elem((5, 3), 1.0);
    assert!(model.fit(r.view()).unwrap().is_nan());
    for k in [0, 2] {
        assert!(model.mean()[k].is_finite() && model.variance()[k].is_finite());
        assert!(model.scale()[k].is_finite());
        assert!(model.x().column(k).iter().all(|v| v.is_finite()));
    }
    assert!(model.mean()[1].is_nan() && model.variance()[1].is_nan());
    assert!(model.scale()[1].is_nan());
    assert!(model.x().column(1).iter().all(|v| v.is_nan()));
}
