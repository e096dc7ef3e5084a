//! Training steps written with `step NAME = minimize(LOSS, OPTIMIZER, ..)`,
//! against JAX and against hand computations.
//!
//! - Every run of `tests/reference/fixtures/training/sgd_trajectory.json`
//!   (`sgd`, `momentum`, `nesterov`, `adam`, `adamw`, `adam_clip`): the
//!   fixture's relu MLP, ten full-batch steps from its initial weights; each
//!   step's returned loss against `losses[i]`, the final weights and the
//!   optimizer state (read through the generated accessors) against
//!   `final` and `state`, with the tolerances `training.py` suggests.
//! - Resuming: the trained struct saved with `to_safetensors_bytes` (and
//!   `save_safetensors`) and loaded into a fresh struct (`from_weights`,
//!   `from_safetensors`) holds the same bits, and five more steps match
//!   `resume_losses` and the uninterrupted run bit for bit; the fixture's own
//!   final weights and state, written to a file by hand (the bias
//!   corrections as `1 − βᵗ`), resume the same way. A file with the weights
//!   only restarts the optimizer from zero: its first step is, bit for bit,
//!   a first step from scratch.
//! - Two steps in one graph (`pretrain` over every variable, `finetune` over
//!   `vars = [w2, b2]`): the frozen variables and the other step's state stay
//!   bit-identical, and each step's numbers match JAX or the hand computation.
//! - `lr` as an input (a schedule) and `sgd(weight_decay = ..)`, against a
//!   float64 re-implementation of the MLP's gradients and of the update rules
//!   of `training.py` (itself checked against JAX's `mlp_grads.json`), and
//!   on a linear loss whose every step is exact in f32.

mod common;
mod training_fixtures;

use std::path::PathBuf;

use staticflow::graph;
use staticflow::ndarray::{
    arr0, array, Array1, Array2, ArrayD, ArrayView, ArrayView1, ArrayView2, Dimension, Ix1, Ix2,
};
use staticflow::weights::{save_safetensors, SafeTensors, Weights};

use common::Json;
use training_fixtures::{
    assert_scalar, assert_tensor, field, floats, labels, load, named, single, tensor, Tolerance,
    LOSSES, TENSORS,
};

/// The fixture's MLP (`relu_ce_indices` of `training.py`) with one training
/// step `fit` using the optimizer given.
macro_rules! mlp {
    ($(#[$attr:meta])* $name:ident: $($optimizer:tt)*) => {
        graph! {
            $(#[$attr])*
            struct $name {
                input x: [n, 64];
                input labels: [n] as usize;
                var w1: [64, 32];
                var b1: [32];
                var w2: [32, 10];
                var b2: [10];
                let h = relu(matmul(x, w1) + b1);
                let logits = matmul(h, w2) + b2;
                output loss = mean(softmax_cross_entropy(logits, labels));
                step fit = minimize(loss, $($optimizer)*);
            }
        }
    };
}

mlp!(
    /// `sgd` of the fixture.
    Sgd: sgd(lr = 0.1)
);
mlp!(
    /// `momentum` of the fixture.
    Momentum: sgd(lr = 0.1, momentum = 0.9)
);
mlp!(
    /// `nesterov` of the fixture.
    Nesterov: sgd(lr = 0.1, momentum = 0.9, nesterov = true)
);
mlp!(
    /// `adam` of the fixture, with Adam's default β₁, β₂ and ε.
    Adam: adam(lr = 0.01)
);
mlp!(
    /// `adamw` of the fixture, with `AdamW`'s default weight decay 0.01.
    AdamW: adamw(lr = 0.01)
);
mlp!(
    /// `adam_clip` of the fixture, every hyperparameter spelled out.
    AdamClip: adam(lr = 0.01, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, clip_norm = 1.0)
);

/// The four parameters of the MLP.
#[derive(Clone, Debug, PartialEq)]
struct Params {
    w1: Array2<f32>,
    b1: Array1<f32>,
    w2: Array2<f32>,
    b2: Array1<f32>,
}

impl Params {
    /// `{"w1", "b1", "w2", "b2"}` of the fixture.
    fn from_json(value: &Json) -> Self {
        Self {
            w1: tensor(field(value, "w1")),
            b1: tensor(field(value, "b1")),
            w2: tensor(field(value, "w2")),
            b2: tensor(field(value, "b2")),
        }
    }

    /// Each parameter with its name.
    fn named(&self) -> [(&'static str, ArrayD<f32>); 4] {
        [
            ("w1", self.w1.clone().into_dyn()),
            ("b1", self.b1.clone().into_dyn()),
            ("w2", self.w2.clone().into_dyn()),
            ("b2", self.b2.clone().into_dyn()),
        ]
    }

    /// A safetensors file of the weights only, no optimizer state.
    fn weights_only(&self) -> Vec<u8> {
        let named = self.named();
        let views: Vec<(&str, _)> = named.iter().map(|(n, a)| (*n, a.view())).collect();
        save_safetensors(&views)
    }
}

/// A variable's value as read by its accessor (`f32` for scalars, a view
/// otherwise), owned.
trait Owned {
    fn owned(self) -> ArrayD<f32>;
}

impl Owned for f32 {
    fn owned(self) -> ArrayD<f32> {
        arr0(self).into_dyn()
    }
}

impl<D: Dimension> Owned for ArrayView<'_, f32, D> {
    fn owned(self) -> ArrayD<f32> {
        self.to_owned().into_dyn()
    }
}

/// What the tests need of each MLP graph: the generated methods, behind one
/// interface.
trait Trained: Sized {
    /// The fixture run it reproduces.
    const RUN: &'static str;
    /// The hyperparameters the graph writes (or leaves at their defaults),
    /// which must be the fixture's.
    const HYPER: &'static [(&'static str, f32)];
    type Workspace: Default;
    fn create(params: &Params) -> Self;
    fn fit(&mut self, x: ArrayView2<'_, f32>, labels: ArrayView1<'_, usize>) -> f32;
    fn fit_with(
        &mut self,
        workspace: &mut Self::Workspace,
        x: ArrayView2<'_, f32>,
        labels: ArrayView1<'_, usize>,
    ) -> f32;
    fn loss(&self, x: ArrayView2<'_, f32>, labels: ArrayView1<'_, usize>) -> f32;
    fn params(&self) -> Params;
    /// The optimizer state, through the generated accessors, by name.
    fn state(&self) -> Vec<(&'static str, ArrayD<f32>)>;
    fn bytes(&self) -> Vec<u8>;
    fn from_bytes(bytes: Vec<u8>) -> Self;
    fn save(&self, path: &std::path::Path);
    fn open(path: &std::path::Path) -> Self;
}

macro_rules! trained {
    ($ty:ident, $workspace:ident, $run:literal, [$($key:literal = $value:expr),*], [$($state:ident),*]) => {
        impl Trained for $ty {
            const RUN: &'static str = $run;
            const HYPER: &'static [(&'static str, f32)] = &[$(($key, $value)),*];
            type Workspace = $workspace;
            fn create(params: &Params) -> Self {
                let p = params.clone();
                $ty::new(p.w1, p.b1, p.w2, p.b2).unwrap()
            }
            fn fit(&mut self, x: ArrayView2<'_, f32>, labels: ArrayView1<'_, usize>) -> f32 {
                $ty::fit(self, x, labels).unwrap()
            }
            fn fit_with(
                &mut self,
                workspace: &mut Self::Workspace,
                x: ArrayView2<'_, f32>,
                labels: ArrayView1<'_, usize>,
            ) -> f32 {
                $ty::fit_with(self, workspace, x, labels).unwrap()
            }
            fn loss(&self, x: ArrayView2<'_, f32>, labels: ArrayView1<'_, usize>) -> f32 {
                $ty::loss(self, x, labels).unwrap()
            }
            fn params(&self) -> Params {
                Params {
                    w1: self.w1().to_owned(),
                    b1: self.b1().to_owned(),
                    w2: self.w2().to_owned(),
                    b2: self.b2().to_owned(),
                }
            }
            fn state(&self) -> Vec<(&'static str, ArrayD<f32>)> {
                vec![$((stringify!($state), self.$state().owned())),*]
            }
            fn bytes(&self) -> Vec<u8> {
                self.to_safetensors_bytes()
            }
            fn from_bytes(bytes: Vec<u8>) -> Self {
                $ty::from_weights(Weights::from_safetensors_bytes(bytes).unwrap(), true).unwrap()
            }
            fn save(&self, path: &std::path::Path) {
                self.save_safetensors(path).unwrap();
            }
            fn open(path: &std::path::Path) -> Self {
                $ty::from_safetensors(path).unwrap()
            }
        }
    };
}

trained!(Sgd, SgdWorkspace, "sgd", ["lr" = 0.1], []);
trained!(
    Momentum,
    MomentumWorkspace,
    "momentum",
    ["lr" = 0.1, "momentum" = 0.9],
    [
        fit_velocity_w1,
        fit_velocity_b1,
        fit_velocity_w2,
        fit_velocity_b2
    ]
);
trained!(
    Nesterov,
    NesterovWorkspace,
    "nesterov",
    ["lr" = 0.1, "momentum" = 0.9],
    [
        fit_velocity_w1,
        fit_velocity_b1,
        fit_velocity_w2,
        fit_velocity_b2
    ]
);
trained!(
    Adam,
    AdamWorkspace,
    "adam",
    [
        "lr" = 0.01,
        "beta1" = 0.9,
        "beta2" = 0.999,
        "epsilon" = 1e-8
    ],
    [
        fit_m_w1, fit_m_b1, fit_m_w2, fit_m_b2, fit_v_w1, fit_v_b1, fit_v_w2, fit_v_b2, fit_bias1,
        fit_bias2
    ]
);
trained!(
    AdamW,
    AdamWWorkspace,
    "adamw",
    [
        "lr" = 0.01,
        "beta1" = 0.9,
        "beta2" = 0.999,
        "epsilon" = 1e-8,
        "weight_decay" = 0.01
    ],
    [
        fit_m_w1, fit_m_b1, fit_m_w2, fit_m_b2, fit_v_w1, fit_v_b1, fit_v_w2, fit_v_b2, fit_bias1,
        fit_bias2
    ]
);
trained!(
    AdamClip,
    AdamClipWorkspace,
    "adam_clip",
    [
        "lr" = 0.01,
        "beta1" = 0.9,
        "beta2" = 0.999,
        "epsilon" = 1e-8,
        "clip_global_norm" = 1.0
    ],
    [
        fit_m_w1, fit_m_b1, fit_m_w2, fit_m_b2, fit_v_w1, fit_v_b1, fit_v_w2, fit_v_b2, fit_bias1,
        fit_bias2
    ]
);

/// The trajectory fixture's data.
struct Fixture {
    json: Json,
    x: Array2<f32>,
    labels: Array1<usize>,
    initial: Params,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        let json = load("sgd_trajectory");
        assert_eq!(field(&json, "steps").index(), 10);
        assert_eq!(field(&json, "resume_steps").index(), 5);
        Fixture {
            x: tensor(field(&json, "x")),
            labels: labels(field(&json, "labels")),
            initial: Params::from_json(field(&json, "initial")),
            json,
        }
    })
}

fn run(name: &str) -> &'static Json {
    named(field(&fixture().json, "runs"), name)
}

/// The bias corrections after `t` steps: `1 − βᵗ` of the float32 β, in
/// float64. The graph keeps them in f32 through `c ← β·c + (1 − β)`: one
/// rounding of the product and one of the sum per step, each at most 2⁻²⁴
/// relative, and the error of `c` shrinks by β at each step; so after `t`
/// steps `c` is within `2t·2⁻²⁴ < 1.2e-7·t` of `1 − βᵗ`, relatively.
fn bias_correction(beta: f32, t: i32) -> f64 {
    1.0 - f64::from(beta).powi(t)
}

/// The tolerance of a bias correction after at most 15 steps.
const BIAS: Tolerance = Tolerance {
    rel: 15.0 * 1.2e-7,
    abs: 0.0,
};

/// The state a run's graph holds after `t` steps, by the names the graph
/// gives it: the fixture's velocity or moments, and the bias corrections.
fn expected_state(run: &Json, t: i32) -> Vec<(String, ArrayD<f32>)> {
    let mut state = Vec::new();
    let Some(stored) = run.get("state") else {
        return state;
    };
    for part in ["velocity", "m", "v"] {
        if let Some(tensors) = stored.get(part) {
            for key in ["w1", "b1", "w2", "b2"] {
                state.push((format!("fit_{part}_{key}"), tensor(field(tensors, key))));
            }
        }
    }
    if let Some(steps) = stored.get("t") {
        assert_eq!(steps.index(), usize::try_from(t).unwrap());
        for (name, beta) in [("fit_bias1", "beta1"), ("fit_bias2", "beta2")] {
            #[allow(clippy::cast_possible_truncation)] // rounded to f32 once, as a file holds it
            let value = bias_correction(single(field(run, beta)), t) as f32;
            state.push((name.to_string(), arr0(value).into_dyn()));
        }
    }
    state
}

/// The graph's state is the expected state: the same names, the moments and
/// velocities within [`TENSORS`], the bias corrections within [`BIAS`].
#[track_caller]
fn assert_state(
    context: &str,
    actual: &[(&'static str, ArrayD<f32>)],
    expected: &[(String, ArrayD<f32>)],
) {
    let mut names: Vec<&str> = actual.iter().map(|(name, _)| *name).collect();
    let mut wanted: Vec<&str> = expected.iter().map(|(name, _)| name.as_str()).collect();
    names.sort_unstable();
    wanted.sort_unstable();
    assert_eq!(names, wanted, "{context}: the state's names");
    for (name, value) in actual {
        let (_, want) = expected.iter().find(|(n, _)| n == name).unwrap();
        let tolerance = if name.contains("bias") { BIAS } else { TENSORS };
        assert_tensor(
            &format!("{context}: `{name}`"),
            &value.view(),
            &want.view(),
            tolerance,
        );
    }
}

#[track_caller]
fn assert_params(context: &str, actual: &Params, expected: &Params, tolerance: Tolerance) {
    for ((name, a), (_, e)) in actual.named().iter().zip(expected.named().iter()) {
        assert_tensor(
            &format!("{context} `{name}`"),
            &a.view(),
            &e.view(),
            tolerance,
        );
    }
}

/// A file name of this process in the temporary directory.
fn temporary(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "staticflow-training-steps-{}-{name}.safetensors",
        std::process::id()
    ))
}

/// The names of the tensors of a safetensors file, sorted.
fn tensor_names(bytes: &[u8]) -> Vec<String> {
    let file = SafeTensors::parse(bytes).unwrap();
    let mut names: Vec<String> = file.names().map(ToString::to_string).collect();
    names.sort_unstable();
    names
}

/// The fixture's ten steps from its initial weights, then resuming and
/// restarting; see the module docs.
fn whole_run<M: Trained>() {
    let mut model = ten_steps::<M>();
    resumes(&mut model);
    restarts_without_state(&model);
}

/// The fixture's ten steps from its initial weights, through both forms,
/// the workspace reused: each loss, then the final loss, weights and state.
fn ten_steps<M: Trained>() -> M {
    let run = run(M::RUN);
    let (x, labels) = (fixture().x.view(), fixture().labels.view());
    // The graph's hyperparameters are the fixture's.
    for &(key, value) in M::HYPER {
        assert_eq!(single(field(run, key)), value, "{}: `{key}`", M::RUN);
    }
    if let Some(nesterov) = run.get("nesterov") {
        assert_eq!(nesterov, &Json::Bool(M::RUN == "nesterov"));
    }

    // Ten steps, through both forms, the workspace reused.
    let mut model = M::create(&fixture().initial);
    for (name, value) in model.state() {
        assert!(
            value.iter().all(|&v| v.to_bits() == 0),
            "`{name}` starts at zero"
        );
    }
    let mut workspace = M::Workspace::default();
    let losses = floats(field(run, "losses"));
    assert_eq!(losses.len(), 10);
    for (i, &expected) in losses.iter().enumerate() {
        let loss = if i % 2 == 0 {
            model.fit_with(&mut workspace, x, labels)
        } else {
            model.fit(x, labels)
        };
        let context = format!("{}: the loss before step {}", M::RUN, i + 1);
        assert_scalar(&context, loss, f64::from(expected), LOSSES);
    }
    let final_loss = f64::from(single(field(run, "final_loss")));
    assert_scalar(
        &format!("{}: the final loss", M::RUN),
        model.loss(x, labels),
        final_loss,
        LOSSES,
    );
    let expected = Params::from_json(field(run, "final"));
    assert_params(
        &format!("{}: final", M::RUN),
        &model.params(),
        &expected,
        TENSORS,
    );
    assert_state(M::RUN, &model.state(), &expected_state(run, 10));
    model
}

/// The trained model saved and loaded (from bytes and from a file) takes
/// five more steps as JAX did, and as the run that never stopped, bit for
/// bit; `model` takes them too.
fn resumes<M: Trained>(model: &mut M) {
    let run = run(M::RUN);
    let (x, labels) = (fixture().x.view(), fixture().labels.view());
    // Saved: the parameters and every state variable, by their names.
    let bytes = model.bytes();
    let mut names: Vec<String> = ["w1", "b1", "w2", "b2"].map(String::from).to_vec();
    names.extend(model.state().iter().map(|(name, _)| (*name).to_string()));
    names.sort_unstable();
    assert_eq!(tensor_names(&bytes), names);

    // Loaded from the bytes and from a file: every bit, state included.
    let mut loaded = M::from_bytes(bytes.clone());
    assert!(loaded.bytes() == bytes, "loading gives back every bit");
    let path = temporary(M::RUN);
    model.save(&path);
    let mut opened = M::open(&path);
    std::fs::remove_file(&path).unwrap();
    assert!(opened.bytes() == bytes, "opening gives back every bit");

    // Five more steps: as JAX resumed, and as the run that never stopped,
    // bit for bit.
    let resumed = floats(field(run, "resume_losses"));
    assert_eq!(resumed.len(), 5);
    let (mut workspace, mut loaded_workspace) = (M::Workspace::default(), M::Workspace::default());
    for (i, &expected) in resumed.iter().enumerate() {
        let uninterrupted = model.fit_with(&mut workspace, x, labels);
        let from_bytes = loaded.fit_with(&mut loaded_workspace, x, labels);
        let from_file = opened.fit(x, labels);
        let context = format!("{}: the loss before resumed step {}", M::RUN, i + 11);
        assert_scalar(&context, from_bytes, f64::from(expected), LOSSES);
        assert_eq!(from_bytes.to_bits(), uninterrupted.to_bits(), "{context}");
        assert_eq!(from_file.to_bits(), uninterrupted.to_bits(), "{context}");
    }
    assert!(
        loaded.bytes() == model.bytes(),
        "{}: resumed as never stopped",
        M::RUN
    );
    assert!(
        opened.bytes() == model.bytes(),
        "{}: resumed as never stopped",
        M::RUN
    );
    let final_loss = f64::from(single(field(run, "resume_final_loss")));
    let context = format!("{}: the loss after resumed step 15", M::RUN);
    assert_scalar(&context, loaded.loss(x, labels), final_loss, LOSSES);
    if model.state().iter().any(|(name, _)| name.contains("bias")) {
        for (name, value) in model.state() {
            let beta = match name {
                "fit_bias1" => single(field(run, "beta1")),
                "fit_bias2" => single(field(run, "beta2")),
                _ => continue,
            };
            let context = format!("{}: `{name}` after 15 steps", M::RUN);
            assert_scalar(&context, value.sum(), bias_correction(beta, 15), BIAS);
        }
    }
}

/// The weights alone restart the optimizer: zero state, and a first step
/// that is, bit for bit, a first step from scratch.
fn restarts_without_state<M: Trained>(model: &M) {
    let (x, labels) = (fixture().x.view(), fixture().labels.view());
    let params = model.params();
    let mut restarted = M::from_bytes(params.weights_only());
    for (name, value) in restarted.state() {
        assert!(
            value.iter().all(|&v| v.to_bits() == 0),
            "`{name}` restarts at zero"
        );
    }
    let mut fresh = M::create(&params);
    assert!(
        restarted.bytes() == fresh.bytes(),
        "{}: weights only",
        M::RUN
    );
    let first = restarted.fit(x, labels);
    assert_eq!(first.to_bits(), fresh.fit(x, labels).to_bits());
    assert!(
        restarted.bytes() == fresh.bytes(),
        "{}: a first step",
        M::RUN
    );
    // Not vacuous: with its state, the same step goes elsewhere.
    let mut continued = M::from_bytes(model.bytes());
    assert_eq!(continued.fit(x, labels).to_bits(), first.to_bits());
    if !model.state().is_empty() {
        assert_ne!(continued.params(), restarted.params());
    }
}

/// A safetensors file of a run's final weights and its state after ten
/// steps, named as the graph names its variables.
fn fixture_file(run: &Json) -> Vec<u8> {
    let mut tensors: Vec<(String, ArrayD<f32>)> = Params::from_json(field(run, "final"))
        .named()
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
    tensors.extend(expected_state(run, 10));
    let views: Vec<(&str, _)> = tensors
        .iter()
        .map(|(n, a)| (n.as_str(), a.view()))
        .collect();
    save_safetensors(&views)
}

/// The fixture's own final weights and state, written to a file by hand
/// with the names the graph documents, resume as JAX did: the state format
/// is the optimizer's, not merely consistent with itself.
fn resumes_from_the_fixture<M: Trained>() {
    let run = run(M::RUN);
    let (x, labels) = (fixture().x.view(), fixture().labels.view());
    let state = expected_state(run, 10);
    // Strict: every tensor written is a variable of the graph.
    let mut model = M::from_bytes(fixture_file(run));
    for (name, value) in model.state() {
        let (_, written) = state.iter().find(|(n, _)| n == name).unwrap();
        assert_eq!(&value, written, "`{name}` as written");
    }
    for (i, &expected) in floats(field(run, "resume_losses")).iter().enumerate() {
        let context = format!(
            "{}: from the fixture's state, the loss before step {}",
            M::RUN,
            i + 11
        );
        assert_scalar(&context, model.fit(x, labels), f64::from(expected), LOSSES);
    }
    let final_loss = f64::from(single(field(run, "resume_final_loss")));
    let context = format!(
        "{}: from the fixture's state, the loss after step 15",
        M::RUN
    );
    assert_scalar(&context, model.loss(x, labels), final_loss, LOSSES);
}

/// The state's setters and mutable accessors write what a file would: the
/// fixture's Adam state set by hand is the state loaded from a file, and
/// resumes as JAX did.
#[test]
fn optimizer_state_has_setters() {
    let run = run("adam");
    let (x, labels) = (fixture().x.view(), fixture().labels.view());
    let p = Params::from_json(field(run, "final"));
    let mut model = Adam::new(p.w1, p.b1, p.w2, p.b2).unwrap();
    let (m, v) = (
        field(field(run, "state"), "m"),
        field(field(run, "state"), "v"),
    );
    model.set_fit_m_w1(tensor(field(m, "w1"))).unwrap();
    model.set_fit_m_b1(tensor(field(m, "b1"))).unwrap();
    model.set_fit_m_w2(tensor(field(m, "w2"))).unwrap();
    model.set_fit_m_b2(tensor(field(m, "b2"))).unwrap();
    model.fit_v_w1_mut().assign(&tensor::<Ix2>(field(v, "w1")));
    model.fit_v_b1_mut().assign(&tensor::<Ix1>(field(v, "b1")));
    model.fit_v_w2_mut().assign(&tensor::<Ix2>(field(v, "w2")));
    model.fit_v_b2_mut().assign(&tensor::<Ix1>(field(v, "b2")));
    #[allow(clippy::cast_possible_truncation)] // as the file holds them
    let (c1, c2) = (
        bias_correction(0.9, 10) as f32,
        bias_correction(0.999, 10) as f32,
    );
    model.set_fit_bias1(c1);
    *model.fit_bias2_mut() = c2;
    assert!(
        model.set_fit_m_w1(Array2::zeros((32, 64))).is_err(),
        "the shape is checked"
    );
    let loaded = <Adam as Trained>::from_bytes(fixture_file(run));
    assert!(
        model.to_safetensors_bytes() == loaded.to_safetensors_bytes(),
        "set as loaded"
    );
    let expected = f64::from(floats(field(run, "resume_losses"))[0]);
    assert_scalar(
        "adam, state set by hand: the loss before step 11",
        Trained::fit(&mut model, x, labels),
        expected,
        LOSSES,
    );
}

#[test]
fn sgd_follows_jax() {
    whole_run::<Sgd>();
    resumes_from_the_fixture::<Sgd>();
}

#[test]
fn momentum_follows_jax() {
    whole_run::<Momentum>();
    resumes_from_the_fixture::<Momentum>();
}

#[test]
fn nesterov_follows_jax() {
    whole_run::<Nesterov>();
    resumes_from_the_fixture::<Nesterov>();
}

#[test]
fn adam_follows_jax() {
    whole_run::<Adam>();
    resumes_from_the_fixture::<Adam>();
}

#[test]
fn adamw_follows_jax() {
    whole_run::<AdamW>();
    resumes_from_the_fixture::<AdamW>();
}

#[test]
fn adam_with_clipping_follows_jax() {
    // The fixture clips some steps and not others: both paths run.
    let run = run("adam_clip");
    let clipped: Vec<usize> = field(run, "clipped_steps")
        .items()
        .iter()
        .map(Json::index)
        .collect();
    assert!(!clipped.is_empty() && clipped.len() < 10, "{clipped:?}");
    whole_run::<AdamClip>();
    resumes_from_the_fixture::<AdamClip>();
}

// ---------------------------------------------------------------- the hand computation

/// The MLP's parameters (or their gradients, or an optimizer's state) in
/// float64, in the order `w1`, `b1`, `w2`, `b2`.
#[derive(Clone, Debug)]
struct Mlp64([ArrayD<f64>; 4]);

const KEYS: [&str; 4] = ["w1", "b1", "w2", "b2"];

impl Mlp64 {
    fn new(params: &Params) -> Self {
        Self(params.named().map(|(_, a)| a.mapv(f64::from)))
    }

    fn zeros() -> Self {
        Self(
            fixture()
                .initial
                .named()
                .map(|(_, a)| ArrayD::zeros(a.raw_dim())),
        )
    }

    /// Rounded once to f32.
    #[allow(clippy::cast_possible_truncation)]
    fn to_f32(&self) -> Params {
        let [w1, b1, w2, b2] = self.0.clone().map(|a| a.mapv(|v| v as f32));
        let (matrix, vector) = (
            |a: ArrayD<f32>| a.into_dimensionality::<Ix2>().unwrap(),
            |a: ArrayD<f32>| a.into_dimensionality::<Ix1>().unwrap(),
        );
        Params {
            w1: matrix(w1),
            b1: vector(b1),
            w2: matrix(w2),
            b2: vector(b2),
        }
    }

    fn matrix(&self, k: usize) -> Array2<f64> {
        self.0[k].clone().into_dimensionality::<Ix2>().unwrap()
    }

    fn vector(&self, k: usize) -> Array1<f64> {
        self.0[k].clone().into_dimensionality::<Ix1>().unwrap()
    }

    /// The mean softmax cross-entropy and its gradient with respect to each
    /// parameter (backpropagation as `training.py` writes it out), and the
    /// smallest `|a|` of a relu pre-activation.
    #[allow(clippy::cast_precision_loss)]
    fn loss_and_gradients(&self, x: &Array2<f64>, labels: &[usize]) -> (f64, Self, f64) {
        let a = x.dot(&self.matrix(0)) + self.vector(1);
        let h = a.mapv(|v| v.max(0.0));
        let logits = h.dot(&self.matrix(2)) + self.vector(3);
        let n = x.nrows() as f64;
        let mut dlogits = Array2::<f64>::zeros(logits.raw_dim());
        let mut loss = 0.0;
        for (row, (z, &label)) in logits.rows().into_iter().zip(labels).enumerate() {
            let max = z.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
            let lse = max + z.iter().map(|&v| (v - max).exp()).sum::<f64>().ln();
            loss += lse - z[label];
            for (c, &v) in z.iter().enumerate() {
                let target = if c == label { 1.0 } else { 0.0 };
                dlogits[[row, c]] = ((v - lse).exp() - target) / n;
            }
        }
        let dw2 = h.t().dot(&dlogits);
        let db2 = dlogits.sum_axis(staticflow::ndarray::Axis(0));
        let dh = dlogits.dot(&self.matrix(2).t());
        let da = dh * a.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 });
        let dw1 = x.t().dot(&da);
        let db1 = da.sum_axis(staticflow::ndarray::Axis(0));
        let margin = a.iter().fold(f64::INFINITY, |m, &v| m.min(v.abs()));
        let gradients = Self([
            dw1.into_dyn(),
            db1.into_dyn(),
            dw2.into_dyn(),
            db2.into_dyn(),
        ]);
        (loss / n, gradients, margin)
    }
}

/// An optimizer as `training.py` writes its rules, with the decay and the
/// `vars` the graph's options add.
#[derive(Clone, Copy, Debug)]
enum Rule {
    Sgd {
        momentum: f32,
        nesterov: bool,
        weight_decay: f32,
    },
    Adam {
        beta1: f32,
        beta2: f32,
        epsilon: f32,
        weight_decay: f32,
        decoupled: bool,
    },
}

/// Float64 training of the MLP: parameters, state (velocity, or the two
/// moments), step count.
struct Reference {
    rule: Rule,
    w: Mlp64,
    first: Mlp64,
    second: Mlp64,
    t: i32,
    /// Which of `w1`, `b1`, `w2`, `b2` are trained.
    trained: [bool; 4],
    /// The smallest `|a|` of a relu pre-activation seen.
    margin: f64,
}

impl Reference {
    fn new(rule: Rule, params: &Params) -> Self {
        Self {
            rule,
            w: Mlp64::new(params),
            first: Mlp64::zeros(),
            second: Mlp64::zeros(),
            t: 0,
            trained: [true; 4],
            margin: f64::INFINITY,
        }
    }

    fn loss(&mut self) -> f64 {
        let (loss, _, margin) = self.w.loss_and_gradients(&data().0, &data().1);
        self.margin = self.margin.min(margin);
        loss
    }

    /// One step at learning rate `lr`; returns the loss before it.
    fn step(&mut self, lr: f32) -> f64 {
        let (loss, g, margin) = self.w.loss_and_gradients(&data().0, &data().1);
        self.margin = self.margin.min(margin);
        self.t += 1;
        let lr = f64::from(lr);
        for k in (0..4).filter(|&k| self.trained[k]) {
            let w = &mut self.w.0[k];
            let mut g = g.0[k].clone();
            match self.rule {
                Rule::Sgd {
                    momentum,
                    nesterov,
                    weight_decay,
                } => {
                    let (mu, decay) = (f64::from(momentum), f64::from(weight_decay));
                    g.zip_mut_with(w, |g, &w| *g += decay * w);
                    let v = &mut self.first.0[k];
                    let direction = if momentum == 0.0 {
                        g
                    } else {
                        v.zip_mut_with(&g, |v, &g| *v = mu * *v + g);
                        if nesterov {
                            &g + &v.mapv(|v| mu * v)
                        } else {
                            v.clone()
                        }
                    };
                    w.zip_mut_with(&direction, |w, &d| *w -= lr * d);
                }
                Rule::Adam {
                    beta1,
                    beta2,
                    epsilon,
                    weight_decay,
                    decoupled,
                } => {
                    let (b1, b2, eps) = (f64::from(beta1), f64::from(beta2), f64::from(epsilon));
                    let decay = f64::from(weight_decay);
                    if !decoupled {
                        g.zip_mut_with(w, |g, &w| *g += decay * w);
                    }
                    let (m, v) = (&mut self.first.0[k], &mut self.second.0[k]);
                    m.zip_mut_with(&g, |m, &g| *m = b1 * *m + (1.0 - b1) * g);
                    v.zip_mut_with(&g, |v, &g| *v = b2 * *v + (1.0 - b2) * g * g);
                    let (c1, c2) = (
                        bias_correction(beta1, self.t),
                        bias_correction(beta2, self.t),
                    );
                    let mut direction = m.mapv(|m| m / c1);
                    direction.zip_mut_with(v, |d, &v| *d /= (v / c2).sqrt() + eps);
                    if decoupled {
                        direction.zip_mut_with(w, |d, &w| *d += decay * w);
                    }
                    w.zip_mut_with(&direction, |w, &d| *w -= lr * d);
                }
            }
        }
        loss
    }
}

/// The fixture's inputs in float64.
fn data() -> &'static (Array2<f64>, Vec<usize>) {
    static DATA: std::sync::OnceLock<(Array2<f64>, Vec<usize>)> = std::sync::OnceLock::new();
    DATA.get_or_init(|| (fixture().x.mapv(f64::from), fixture().labels.to_vec()))
}

/// The relu pre-activations of every hand-computed trajectory stay this far
/// from 0 (`training.py`'s margin), so float32 and float64 take the same
/// branch of every relu and a gradient's discontinuity cannot part them.
const MARGIN: f64 = 1e-4;

/// The float64 hand computation is JAX's: the gradients of `mlp_grads.json`
/// (`relu_ce_indices`, on the same data and initial weights) to the
/// float32 rounding of the stored values, and the optimizer rules over the
/// fixture's ten steps to its losses' rounding.
#[test]
fn the_hand_computation_is_jax() {
    let grads = load("mlp_grads");
    let case = named(field(&grads, "cases"), "relu_ce_indices");
    let params = Params::from_json(field(&grads, "params"));
    assert_eq!(params, fixture().initial);
    let (loss, gradients, _) = Mlp64::new(&params).loss_and_gradients(&data().0, &data().1);
    // Each stored value is the float64 reference rounded to f32: half an ulp.
    let rounding = Tolerance {
        rel: 6e-8,
        abs: 1e-30,
    };
    assert!(training_fixtures::close(
        loss,
        f64::from(single(field(case, "loss_value"))),
        rounding
    ));
    for (k, key) in KEYS.iter().enumerate() {
        let want: ArrayD<f32> = tensor(field(field(case, "grads"), key));
        for (&got, &want) in gradients.0[k].iter().zip(&want) {
            assert!(
                training_fixtures::close(got, f64::from(want), rounding),
                "d/d{key}: {got:e} against {want:e}"
            );
        }
    }
    let hyper = |run: &Json, key: &str| single(field(run, key));
    for name in ["sgd", "momentum", "nesterov", "adam", "adamw"] {
        let run = run(name);
        let rule = if name.starts_with("adam") {
            Rule::Adam {
                beta1: hyper(run, "beta1"),
                beta2: hyper(run, "beta2"),
                epsilon: hyper(run, "epsilon"),
                weight_decay: run.get("weight_decay").map_or(0.0, single),
                decoupled: true,
            }
        } else {
            Rule::Sgd {
                momentum: run.get("momentum").map_or(0.0, single),
                nesterov: run.get("nesterov") == Some(&Json::Bool(true)),
                weight_decay: 0.0,
            }
        };
        let mut reference = Reference::new(rule, &fixture().initial);
        let mut losses: Vec<f64> = (0..10).map(|_| reference.step(hyper(run, "lr"))).collect();
        losses.push(reference.loss());
        let mut want = floats(field(run, "losses"));
        want.push(single(field(run, "final_loss")));
        for (got, want) in losses.iter().zip(&want) {
            assert!(
                training_fixtures::close(*got, f64::from(*want), rounding),
                "{name}: {got} against {want}"
            );
        }
        let expected = Params::from_json(field(run, "final"));
        assert_params(
            name,
            &reference.w.to_f32(),
            &expected,
            Tolerance {
                rel: 1.2e-7,
                abs: 1e-30,
            },
        );
    }
}

/// Trains a graph and the hand computation side by side, `lrs` one per
/// step, comparing each loss; then the final loss and parameters.
fn side_by_side(
    context: &str,
    reference: &mut Reference,
    lrs: &[f32],
    mut step: impl FnMut(f32) -> f32,
) {
    for (i, &lr) in lrs.iter().enumerate() {
        let expected = reference.step(lr);
        let loss = step(lr);
        assert_scalar(
            &format!("{context}: the loss before step {}", i + 1),
            loss,
            expected,
            LOSSES,
        );
    }
    assert!(
        reference.margin >= MARGIN,
        "{context}: relu margin {}",
        reference.margin
    );
}

graph! {
    /// The MLP trained with a learning rate given at each step.
    struct Scheduled {
        input x: [n, 64];
        input labels: [n] as usize;
        input lr: [];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        let h = relu(matmul(x, w1) + b1);
        let logits = matmul(h, w2) + b2;
        output loss = mean(softmax_cross_entropy(logits, labels));
        step fit = minimize(loss, sgd(lr = lr, momentum = 0.9));
    }
}

#[test]
fn a_learning_rate_input_follows_a_schedule() {
    let (x, labels) = (fixture().x.view(), fixture().labels.view());
    let initial = fixture().initial.clone();
    let mut model = Scheduled::new(initial.w1, initial.b1, initial.w2, initial.b2).unwrap();
    let rule = Rule::Sgd {
        momentum: 0.9,
        nesterov: false,
        weight_decay: 0.0,
    };
    let mut reference = Reference::new(rule, &fixture().initial);
    let mut workspace = ScheduledWorkspace::default();
    // Warm-up, a pause (lr 0: the weights stay, the velocity still grows),
    // then decay.
    let schedule = [0.02, 0.05, 0.1, 0.0, 0.1, 0.05, 0.025, 0.0125];
    let mut paused = None;
    side_by_side("schedule", &mut reference, &schedule, |lr| {
        let before = (model.w1().to_owned(), model.fit_velocity_w1().to_owned());
        let loss = model.fit_with(&mut workspace, x, labels, lr).unwrap();
        if lr == 0.0 {
            paused = Some(before);
            assert_eq!(
                model.w1(),
                paused.as_ref().unwrap().0,
                "lr 0 leaves the weights"
            );
            assert_ne!(model.fit_velocity_w1(), paused.as_ref().unwrap().1);
        }
        loss
    });
    assert!(paused.is_some());
    assert_scalar(
        "schedule: the final loss",
        model.loss(x, labels).unwrap(),
        reference.loss(),
        LOSSES,
    );
    let params = Params {
        w1: model.w1().to_owned(),
        b1: model.b1().to_owned(),
        w2: model.w2().to_owned(),
        b2: model.b2().to_owned(),
    };
    assert_params("schedule: final", &params, &reference.w.to_f32(), TENSORS);
    let velocity = reference.first.to_f32();
    assert_tensor(
        "schedule: `fit_velocity_w1`",
        &model.fit_velocity_w1(),
        &velocity.w1.view(),
        TENSORS,
    );
    assert_tensor(
        "schedule: `fit_velocity_b1`",
        &model.fit_velocity_b1(),
        &velocity.b1.view(),
        TENSORS,
    );
    assert_tensor(
        "schedule: `fit_velocity_w2`",
        &model.fit_velocity_w2(),
        &velocity.w2.view(),
        TENSORS,
    );
    assert_tensor(
        "schedule: `fit_velocity_b2`",
        &model.fit_velocity_b2(),
        &velocity.b2.view(),
        TENSORS,
    );
}

graph! {
    /// The MLP with L2 weight decay, through SGD with momentum and through
    /// (coupled) Adam.
    struct Decayed {
        input x: [n, 64];
        input labels: [n] as usize;
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        let h = relu(matmul(x, w1) + b1);
        let logits = matmul(h, w2) + b2;
        output loss = mean(softmax_cross_entropy(logits, labels));
        step sgd_decay = minimize(loss, sgd(lr = 0.1, weight_decay = 0.05));
        step momentum_decay = minimize(loss, sgd(lr = 0.1, momentum = 0.9, weight_decay = 0.05));
        step adam_decay = minimize(loss, adam(lr = 0.01, weight_decay = 0.05));
    }
}

fn decayed_params(model: &Decayed) -> Params {
    Params {
        w1: model.w1().to_owned(),
        b1: model.b1().to_owned(),
        w2: model.w2().to_owned(),
        b2: model.b2().to_owned(),
    }
}

#[test]
fn weight_decay_adds_to_the_gradient() {
    let (x, labels) = (fixture().x.view(), fixture().labels.view());
    let rules: [(&str, Rule, f32); 3] = [
        (
            "sgd",
            Rule::Sgd {
                momentum: 0.0,
                nesterov: false,
                weight_decay: 0.05,
            },
            0.1,
        ),
        (
            "momentum",
            Rule::Sgd {
                momentum: 0.9,
                nesterov: false,
                weight_decay: 0.05,
            },
            0.1,
        ),
        (
            "adam",
            Rule::Adam {
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-8,
                weight_decay: 0.05,
                decoupled: false,
            },
            0.01,
        ),
    ];
    for (name, rule, lr) in rules {
        let initial = fixture().initial.clone();
        let mut model = Decayed::new(initial.w1, initial.b1, initial.w2, initial.b2).unwrap();
        let mut reference = Reference::new(rule, &fixture().initial);
        side_by_side(name, &mut reference, &[lr; 6], |_| match name {
            "sgd" => model.sgd_decay(x, labels).unwrap(),
            "momentum" => model.momentum_decay(x, labels).unwrap(),
            _ => model.adam_decay(x, labels).unwrap(),
        });
        let context = format!("{name} with weight decay: final");
        assert_params(
            &context,
            &decayed_params(&model),
            &reference.w.to_f32(),
            TENSORS,
        );
        // Not vacuous: without the decay, the same steps end elsewhere,
        // further than the tolerance.
        let plain_rule = match rule {
            Rule::Sgd {
                momentum, nesterov, ..
            } => Rule::Sgd {
                momentum,
                nesterov,
                weight_decay: 0.0,
            },
            Rule::Adam {
                beta1,
                beta2,
                epsilon,
                ..
            } => Rule::Adam {
                beta1,
                beta2,
                epsilon,
                weight_decay: 0.0,
                decoupled: false,
            },
        };
        let mut plain = Reference::new(plain_rule, &fixture().initial);
        for _ in 0..6 {
            plain.step(lr);
        }
        let apart = training_fixtures::used(
            &decayed_params(&model).w1.view(),
            &plain.w.to_f32().w1.view(),
            TENSORS,
        );
        assert!(apart > 10.0, "{name}: decay moves w1 by {apart} tolerances");
    }
}

graph! {
    /// A linear loss: its gradient with respect to `w` is `x`, exactly, and
    /// with the values below every step is exact in f32.
    struct Linear {
        input x: [4];
        input lr: [];
        var w: [4];
        output loss = sum(w * x);
        step fit = minimize(loss, sgd(lr = lr));
        step decay = minimize(loss, sgd(lr = 0.25, weight_decay = 0.5));
    }
}

#[test]
fn linear_steps_are_exact() {
    let x = array![0.5, 1.0, -2.0, 0.25];
    let w0 = array![1.0, -2.0, 0.5, 4.0];
    // w ← w − lr·x; the loss returned is w·x before the step.
    let mut linear = Linear::new(w0.clone()).unwrap();
    let steps = [
        (0.5, -1.5, array![0.75, -2.5, 1.5, 3.875]),
        (0.25, -4.156_25, array![0.625, -2.75, 2.0, 3.8125]),
        (0.0, -5.484_375, array![0.625, -2.75, 2.0, 3.8125]),
        (2.0, -5.484_375, array![-0.375, -4.75, 6.0, 3.3125]),
    ];
    for (lr, loss, w) in steps {
        assert_eq!(linear.fit(x.view(), lr).unwrap(), loss);
        assert_eq!(linear.w(), w);
    }
    assert_eq!(linear.loss(x.view()).unwrap(), -16.109_375);
    // Weight decay λ = 0.5 at lr 0.25: w ← w − 0.25·(x + 0.5·w) = 0.875·w − 0.25·x.
    let mut linear = Linear::new(w0).unwrap();
    assert_eq!(linear.decay(x.view()).unwrap(), -1.5);
    assert_eq!(linear.w(), array![0.75, -2.0, 0.9375, 3.4375]);
    assert_eq!(linear.decay(x.view()).unwrap(), -2.640_625);
    assert_eq!(linear.w(), array![0.531_25, -2.0, 1.320_312_5, 2.945_312_5]);
}

graph! {
    /// Two steps over one loss: Adam pretrains everything, SGD with momentum
    /// fine-tunes the last layer.
    struct TwoPhase {
        input x: [n, 64];
        input labels: [n] as usize;
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        let h = relu(matmul(x, w1) + b1);
        let logits = matmul(h, w2) + b2;
        output loss = mean(softmax_cross_entropy(logits, labels));
        step pretrain = minimize(loss, adam(lr = 0.01));
        step finetune = minimize(loss, sgd(lr = 0.1, momentum = 0.9), vars = [w2, b2]);
    }
}

/// Every variable of a saved file, by name.
fn variables(bytes: &[u8]) -> Vec<(String, ArrayD<f32>)> {
    let file = SafeTensors::parse(bytes).unwrap();
    file.tensors()
        .map(|(name, t)| (name.to_string(), t.to_f32_array().unwrap()))
        .collect()
}

/// The variables whose names satisfy `keep` are bit-identical in both files.
#[track_caller]
fn same_bits(context: &str, before: &[u8], after: &[u8], keep: impl Fn(&str) -> bool) {
    let (before, after) = (variables(before), variables(after));
    let mut compared = 0;
    for ((name, a), (other, b)) in before.iter().zip(&after) {
        assert_eq!(name, other);
        if keep(name) {
            let bits = |t: &ArrayD<f32>| t.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(a), bits(b), "{context}: `{name}` changed");
            compared += 1;
        }
    }
    assert!(compared > 0, "{context}: nothing compared");
}

#[test]
fn two_steps_train_their_own_variables_with_their_own_state() {
    let initial = fixture().initial.clone();
    let mut model = TwoPhase::new(initial.w1, initial.b1, initial.w2, initial.b2).unwrap();
    let mut names: Vec<String> = vec!["w1", "b1", "w2", "b2", "pretrain_bias1", "pretrain_bias2"]
        .into_iter()
        .map(String::from)
        .collect();
    for part in ["m", "v"] {
        names.extend(KEYS.iter().map(|k| format!("pretrain_{part}_{k}")));
    }
    names.extend(["finetune_velocity_w2", "finetune_velocity_b2"].map(String::from));
    names.sort_unstable();
    assert_eq!(tensor_names(&model.to_safetensors_bytes()), names);
    let mut workspace = TwoPhaseWorkspace::default();
    pretrain(&mut model, &mut workspace);
    let finetuned = finetune(&mut model, &mut workspace);
    pretrain_again(&mut model, &finetuned);
}

/// Three pretraining steps are the fixture's Adam run; the fine-tuning
/// state stays 0.
fn pretrain(model: &mut TwoPhase, workspace: &mut TwoPhaseWorkspace) {
    let (x, labels) = (fixture().x.view(), fixture().labels.view());
    let adam = floats(field(run("adam"), "losses"));
    let start = model.to_safetensors_bytes();
    for (i, &expected) in adam.iter().take(3).enumerate() {
        let loss = model.pretrain_with(workspace, x, labels).unwrap();
        assert_scalar(
            &format!("pretrain: the loss before step {}", i + 1),
            loss,
            f64::from(expected),
            LOSSES,
        );
    }
    same_bits("pretraining", &start, &model.to_safetensors_bytes(), |n| {
        n.starts_with("finetune_")
    });
    assert!(model
        .finetune_velocity_w2()
        .iter()
        .all(|&v| v.to_bits() == 0));
}

/// Three fine-tuning steps: w2 and b2 by hand from where pretraining left
/// them; w1, b1 and Adam's state untouched, bit for bit. Returns the file of
/// every variable after them.
fn finetune(model: &mut TwoPhase, workspace: &mut TwoPhaseWorkspace) -> Vec<u8> {
    let (x, labels) = (fixture().x.view(), fixture().labels.view());
    let pretrained = model.to_safetensors_bytes();
    let mut reference = Reference::new(
        Rule::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 0.0,
        },
        &two_phase_params(model),
    );
    reference.trained = [false, false, true, true];
    side_by_side("finetune", &mut reference, &[0.1; 3], |_| {
        model.finetune_with(workspace, x, labels).unwrap()
    });
    let finetuned = model.to_safetensors_bytes();
    same_bits("fine-tuning", &pretrained, &finetuned, |n| {
        n == "w1" || n == "b1" || n.starts_with("pretrain_")
    });
    let expected = reference.w.to_f32();
    assert_tensor("finetune: `w2`", &model.w2(), &expected.w2.view(), TENSORS);
    assert_tensor("finetune: `b2`", &model.b2(), &expected.b2.view(), TENSORS);
    let velocity = reference.first.to_f32();
    assert_tensor(
        "finetune: `finetune_velocity_w2`",
        &model.finetune_velocity_w2(),
        &velocity.w2.view(),
        TENSORS,
    );
    assert_tensor(
        "finetune: `finetune_velocity_b2`",
        &model.finetune_velocity_b2(),
        &velocity.b2.view(),
        TENSORS,
    );
    assert!(finetuned != pretrained, "fine-tuning trained");
    finetuned
}

/// Pretraining again continues its own state: step 4 of Adam, by hand from
/// the moments it kept and the weights fine-tuning left; the velocity stays.
fn pretrain_again(model: &mut TwoPhase, finetuned: &[u8]) {
    let (x, labels) = (fixture().x.view(), fixture().labels.view());
    let mut reference = Reference::new(
        Rule::Adam {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.0,
            decoupled: true,
        },
        &two_phase_params(model),
    );
    reference.t = 3;
    let moments = |part: &str| {
        Mlp64(KEYS.map(|k| {
            let (_, value) = variables(finetuned)
                .into_iter()
                .find(|(n, _)| *n == format!("pretrain_{part}_{k}"))
                .unwrap();
            value.mapv(f64::from)
        }))
    };
    reference.first = moments("m");
    reference.second = moments("v");
    side_by_side("pretrain again", &mut reference, &[0.01], |_| {
        model.pretrain(x, labels).unwrap()
    });
    assert_params(
        "pretrain again",
        &two_phase_params(model),
        &reference.w.to_f32(),
        TENSORS,
    );
    assert_scalar(
        "`pretrain_bias1` after 4 steps",
        model.pretrain_bias1(),
        bias_correction(0.9, 4),
        BIAS,
    );
    assert_scalar(
        "`pretrain_bias2` after 4 steps",
        model.pretrain_bias2(),
        bias_correction(0.999, 4),
        BIAS,
    );
    same_bits(
        "pretraining again",
        finetuned,
        &model.to_safetensors_bytes(),
        |n| n.starts_with("finetune_"),
    );
}

fn two_phase_params(model: &TwoPhase) -> Params {
    Params {
        w1: model.w1().to_owned(),
        b1: model.b1().to_owned(),
        w2: model.w2().to_owned(),
        b2: model.b2().to_owned(),
    }
}
