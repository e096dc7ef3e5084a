//! `grad` and hand-written optimizers against JAX: the fixtures of
//! `tests/reference/training.py` (float64 JAX and numpy, see the layout at
//! the top of that script), which CI reads without Python.
//!
//! - `mlp_grads.json`: the 64-32-10 MLP's loss, logits and gradients with
//!   respect to `w1, b1, w2, b2` and the input `x`, in its four
//!   configurations (relu with index labels, with one-hot labels, with soft
//!   labels; tanh with `mse`), each written as a graph exactly as the script
//!   describes it.
//! - `sgd_trajectory.json`: 10 full-batch steps from the same weights by
//!   plain SGD, momentum and Nesterov (`PyTorch`'s conventions), written as
//!   variable updates with `grad` and driven by `update`; then 5 more steps
//!   resumed from the stored final weights and velocities. Adam, `AdamW` and
//!   Adam with global-norm clipping are written by hand too, with the bias
//!   corrections carried in variables.
//!
//! # Tolerances
//!
//! Gradients ([`GRADIENTS`]): `1e-5·|expected| + 1e-6·max|expected tensor|`.
//! An `f32` gradient element is a sum of products (64 or 32 or 8 terms per
//! matrix product, two products deep), so its rounding error scales with
//! the magnitude of the terms, not with the possibly cancelling result: the
//! script measured float32 gradients within 4e-7 of the largest magnitude
//! of each tensor. A relative 1e-5 alone would fail entries that cancel to
//! near zero (`dx` has entries of 3e-6 beside a largest of 5e-2; dead relu
//! units give exact zeros), hence the floor of 1e-6 of the tensor's largest
//! entry: 2.5x above the worst float32 error the script saw, and still 10x
//! below what a wrong rule gives (a wrong rule breaks whole rows and
//! columns, not the last digits of cancelling entries).
//!
//! Trajectories: the script author's suggestion, `1e-4·|expected| + 1e-5`
//! for weights and optimizer state, `1e-4` relative for losses: ten steps
//! compound the per-step rounding, and the momentum runs reach losses near
//! 3e-4 where cross-entropy's cancellation costs digits (the script saw its
//! own float32 run within 5e-6 relative).

mod common;

use std::path::PathBuf;

use common::{assert_close, parse_json, Json, Tolerance};
use staticflow::graph;
use staticflow::ndarray::{Array1, Array2, ArrayD, ArrayView, Dimension, IxDyn};

// ------------------------------------------------------------------ fixtures

fn fixture(name: &str) -> Json {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference/fixtures/training")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
    parse_json(&text)
}

fn get<'a>(json: &'a Json, key: &str) -> &'a Json {
    json.get(key).unwrap_or_else(|| panic!("no `{key}`"))
}

fn shape(tensor: &Json) -> Vec<usize> {
    get(tensor, "shape")
        .items()
        .iter()
        .map(Json::index)
        .collect()
}

/// A fixture number as the `f32` it stores exactly.
#[allow(clippy::cast_possible_truncation)]
fn single(value: &Json) -> f32 {
    value.float() as f32
}

/// A float tensor.
fn floats(tensor: &Json) -> ArrayD<f32> {
    let data = get(tensor, "data").items().iter().map(single).collect();
    ArrayD::from_shape_vec(IxDyn(&shape(tensor)), data).expect("data matching the shape")
}

/// An integer tensor (class labels).
fn integers(tensor: &Json) -> ArrayD<usize> {
    let data = get(tensor, "data")
        .items()
        .iter()
        .map(Json::index)
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape(tensor)), data).expect("data matching the shape")
}

fn view<A, D: Dimension>(a: &ArrayD<A>) -> ArrayView<'_, A, D> {
    a.view().into_dimensionality::<D>().expect("rank")
}

fn matrix(a: &ArrayD<f32>) -> Array2<f32> {
    view(a).to_owned()
}

fn vector(a: &ArrayD<f32>) -> Array1<f32> {
    view(a).to_owned()
}

/// The four parameters `w1, b1, w2, b2` of a `{"w1": T, ...}` object.
struct Params {
    w1: Array2<f32>,
    b1: Array1<f32>,
    w2: Array2<f32>,
    b2: Array1<f32>,
}

impl Params {
    fn read(json: &Json) -> Self {
        Params {
            w1: matrix(&floats(get(json, "w1"))),
            b1: vector(&floats(get(json, "b1"))),
            w2: matrix(&floats(get(json, "w2"))),
            b2: vector(&floats(get(json, "b2"))),
        }
    }

    fn zeros() -> Self {
        Params {
            w1: Array2::zeros((64, 32)),
            b1: Array1::zeros(32),
            w2: Array2::zeros((32, 10)),
            b2: Array1::zeros(10),
        }
    }

    /// Optimizer state: [`TRAJECTORY`]'s relative part, and its absolute
    /// floor scaled down for tensors of small magnitude (Adam's second
    /// moments are squared gradients, ~1e-6, which a fixed 1e-5 would not
    /// check at all): `abs = 1e-5·min(1, max|expected|)`, the bound the
    /// script itself asserts for its float32 runs.
    fn check_state(&self, context: &str, expected: &Json) {
        for (name, got) in self.named() {
            let want = floats(get(expected, name));
            let largest = want.iter().fold(0.0_f64, |m, v| m.max(f64::from(v.abs())));
            let tolerance = Tolerance {
                rel: TRAJECTORY.rel,
                abs: TRAJECTORY.abs * largest.min(1.0),
            };
            assert_close(&format!("{context} {name}"), &got, &want.view(), tolerance);
        }
    }

    fn named(&self) -> [(&'static str, staticflow::ndarray::ArrayViewD<'_, f32>); 4] {
        [
            ("w1", self.w1.view().into_dyn()),
            ("b1", self.b1.view().into_dyn()),
            ("w2", self.w2.view().into_dyn()),
            ("b2", self.b2.view().into_dyn()),
        ]
    }

    fn check(&self, context: &str, expected: &Json, tolerance: Tolerance) {
        let pairs = [
            ("w1", self.w1.view().into_dyn()),
            ("b1", self.b1.view().into_dyn()),
            ("w2", self.w2.view().into_dyn()),
            ("b2", self.b2.view().into_dyn()),
        ];
        for (name, got) in pairs {
            let want = floats(get(expected, name));
            assert_close(&format!("{context} {name}"), &got, &want.view(), tolerance);
        }
    }
}

/// [`GRADIENTS`]'s rule for one tensor: relative 1e-5, plus 1e-6 of the
/// tensor's largest magnitude.
fn gradient_tolerance(expected: &ArrayD<f32>) -> Tolerance {
    let largest = expected
        .iter()
        .fold(0.0_f64, |m, v| m.max(f64::from(v.abs())));
    Tolerance {
        rel: GRADIENTS.rel,
        abs: GRADIENTS.abs * largest,
    }
}

/// Gradients: `rel` of the entry plus `abs` times the tensor's largest
/// magnitude (see the module documentation).
const GRADIENTS: Tolerance = Tolerance {
    rel: 1e-5,
    abs: 1e-6,
};

/// Final weights and optimizer state after a trajectory.
const TRAJECTORY: Tolerance = Tolerance {
    rel: 1e-4,
    abs: 1e-5,
};

/// Losses along a trajectory, relative.
const LOSS_REL: f64 = 1e-4;

fn assert_loss(context: &str, got: f32, expected: &Json, rel: f64) {
    let want = expected.float();
    let got = f64::from(got);
    assert!(
        (got - want).abs() <= rel * want.abs(),
        "{context}: loss {got:e}, JAX {want:e} (relative {:.2e})",
        (got - want).abs() / want.abs()
    );
}

// ------------------------------------------------------------------ gradients

graph! {
    /// relu hidden layer, mean cross-entropy on class indices.
    struct ReluIndices {
        input x: [n, 64];
        input labels: [n] as usize;
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        let h = relu(matmul(x, w1) + b1);
        output logits = matmul(h, w2) + b2;
        output loss = mean(softmax_cross_entropy(logits, labels));
        output g_w1 = grad(loss, w1);
        output g_b1 = grad(loss, b1);
        output g_w2 = grad(loss, w2);
        output g_b2 = grad(loss, b2);
        output g_x = grad(loss, x);
    }
}

graph! {
    /// relu hidden layer, mean cross-entropy on probability labels.
    struct ReluProbabilities {
        input x: [n, 64];
        input targets: [n, 10];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        let h = relu(matmul(x, w1) + b1);
        output logits = matmul(h, w2) + b2;
        output loss = mean(softmax_cross_entropy(logits, targets));
        output g_w1 = grad(loss, w1);
        output g_b1 = grad(loss, b1);
        output g_w2 = grad(loss, w2);
        output g_b2 = grad(loss, b2);
        output g_x = grad(loss, x);
    }
}

graph! {
    /// tanh hidden layer, `mse` over all N·C logits.
    struct TanhMse {
        input x: [n, 64];
        input targets: [n, 10];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        let h = tanh(matmul(x, w1) + b1);
        output logits = matmul(h, w2) + b2;
        output loss = mse(logits, targets);
        output g_w1 = grad(loss, w1);
        output g_b1 = grad(loss, b1);
        output g_w2 = grad(loss, w2);
        output g_b2 = grad(loss, b2);
        output g_x = grad(loss, x);
    }
}

/// What each MLP graph computes, in one shape.
struct MlpResults {
    loss: f32,
    logits: ArrayD<f32>,
    grads: [(&'static str, ArrayD<f32>); 5],
}

macro_rules! mlp_results {
    ($outputs:expr) => {{
        let o = $outputs;
        MlpResults {
            loss: o.loss,
            logits: o.logits.into_dyn(),
            grads: [
                ("w1", o.g_w1.into_dyn()),
                ("b1", o.g_b1.into_dyn()),
                ("w2", o.g_w2.into_dyn()),
                ("b2", o.g_b2.into_dyn()),
                ("x", o.g_x.into_dyn()),
            ],
        }
    }};
}

#[test]
fn mlp_gradients_match_jax() {
    let root = fixture("mlp_grads.json");
    let x = floats(get(&root, "x"));
    let p = Params::read(get(&root, "params"));
    let cases = get(&root, "cases").items();
    let names: Vec<&str> = cases.iter().map(|c| get(c, "name").text()).collect();
    assert_eq!(
        names,
        [
            "relu_ce_indices",
            "relu_ce_onehot",
            "relu_ce_soft",
            "tanh_mse_onehot"
        ]
    );
    let mut worst = 0.0_f64;
    for case in cases {
        let name = get(case, "name").text();
        let targets = get(case, "targets");
        let (hidden, loss) = (get(case, "hidden").text(), get(case, "loss").text());
        let got = match (hidden, loss) {
            ("relu", "softmax_cross_entropy_indices") => {
                let graph =
                    ReluIndices::new(p.w1.clone(), p.b1.clone(), p.w2.clone(), p.b2.clone());
                let labels = integers(targets);
                mlp_results!(graph.unwrap().run(view(&x), view(&labels)).unwrap())
            }
            ("relu", "softmax_cross_entropy") => {
                let graph =
                    ReluProbabilities::new(p.w1.clone(), p.b1.clone(), p.w2.clone(), p.b2.clone());
                let targets = floats(targets);
                mlp_results!(graph.unwrap().run(view(&x), view(&targets)).unwrap())
            }
            ("tanh", "mse") => {
                let graph = TanhMse::new(p.w1.clone(), p.b1.clone(), p.w2.clone(), p.b2.clone());
                let targets = floats(targets);
                mlp_results!(graph.unwrap().run(view(&x), view(&targets)).unwrap())
            }
            other => panic!("{name}: no graph for {other:?}"),
        };
        assert_loss(name, got.loss, get(case, "loss_value"), 1e-6);
        let logits = floats(get(case, "logits"));
        assert_close(
            &format!("{name} logits"),
            &got.logits.view(),
            &logits.view(),
            gradient_tolerance(&logits),
        );
        let expected = get(case, "grads");
        for (key, grad) in &got.grads {
            let want = floats(get(expected, key));
            let tolerance = gradient_tolerance(&want);
            assert_close(
                &format!("{name} d/d{key}"),
                &grad.view(),
                &want.view(),
                tolerance,
            );
            // The error as a fraction of the tolerance at each entry.
            for (g, w) in grad.iter().zip(&want) {
                let allowed = tolerance.abs + tolerance.rel * f64::from(w.abs());
                worst = worst.max(f64::from((g - w).abs()) / allowed);
            }
        }
    }
    eprintln!("mlp_gradients_match_jax: worst error {worst:.2} of the tolerance");
}

// ------------------------------------------------------------------ trajectories

graph! {
    /// Plain SGD, lr 0.1, all four parameters.
    struct Sgd {
        input x: [n, 64];
        input labels: [n] as usize;
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        let h = relu(matmul(x, w1) + b1);
        output loss = mean(softmax_cross_entropy(matmul(h, w2) + b2, labels));
        w1 = w1 - 0.1 * grad(loss, w1);
        b1 = b1 - 0.1 * grad(loss, b1);
        w2 = w2 - 0.1 * grad(loss, w2);
        b2 = b2 - 0.1 * grad(loss, b2);
    }
}

graph! {
    /// `PyTorch`'s SGD with momentum 0.9: `v = 0.9·v + g; w -= 0.1·v`, the
    /// new `v` named once and used by both updates.
    struct Momentum {
        input x: [n, 64];
        input labels: [n] as usize;
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        var v1: [64, 32];
        var c1: [32];
        var v2: [32, 10];
        var c2: [10];
        let h = relu(matmul(x, w1) + b1);
        output loss = mean(softmax_cross_entropy(matmul(h, w2) + b2, labels));
        let v1_new = 0.9 * v1 + grad(loss, w1);
        let c1_new = 0.9 * c1 + grad(loss, b1);
        let v2_new = 0.9 * v2 + grad(loss, w2);
        let c2_new = 0.9 * c2 + grad(loss, b2);
        v1 = v1_new;
        c1 = c1_new;
        v2 = v2_new;
        c2 = c2_new;
        w1 = w1 - 0.1 * v1_new;
        b1 = b1 - 0.1 * c1_new;
        w2 = w2 - 0.1 * v2_new;
        b2 = b2 - 0.1 * c2_new;
    }
}

graph! {
    /// Momentum written with the old velocity in the weight update:
    /// `w -= 0.1·(0.9·v + g)` reads `v` from before the step, which is
    /// `0.1·v_new`, so this is momentum again, not Nesterov.
    struct MomentumFromOldVelocity {
        input x: [n, 64];
        input labels: [n] as usize;
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        var v1: [64, 32];
        var c1: [32];
        var v2: [32, 10];
        var c2: [10];
        let h = relu(matmul(x, w1) + b1);
        output loss = mean(softmax_cross_entropy(matmul(h, w2) + b2, labels));
        v1 = 0.9 * v1 + grad(loss, w1);
        c1 = 0.9 * c1 + grad(loss, b1);
        v2 = 0.9 * v2 + grad(loss, w2);
        c2 = 0.9 * c2 + grad(loss, b2);
        w1 = w1 - 0.1 * (0.9 * v1 + grad(loss, w1));
        b1 = b1 - 0.1 * (0.9 * c1 + grad(loss, b1));
        w2 = w2 - 0.1 * (0.9 * v2 + grad(loss, w2));
        b2 = b2 - 0.1 * (0.9 * c2 + grad(loss, b2));
    }
}

graph! {
    /// `PyTorch`'s Nesterov: `v = 0.9·v + g; w -= 0.1·(g + 0.9·v)` with the
    /// new `v`. Every update reads the values from before the step, so the
    /// new velocity is spelled out in the weight update.
    struct Nesterov {
        input x: [n, 64];
        input labels: [n] as usize;
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        var v1: [64, 32];
        var c1: [32];
        var v2: [32, 10];
        var c2: [10];
        let h = relu(matmul(x, w1) + b1);
        output loss = mean(softmax_cross_entropy(matmul(h, w2) + b2, labels));
        v1 = 0.9 * v1 + grad(loss, w1);
        c1 = 0.9 * c1 + grad(loss, b1);
        v2 = 0.9 * v2 + grad(loss, w2);
        c2 = 0.9 * c2 + grad(loss, b2);
        w1 = w1 - 0.1 * (grad(loss, w1) + 0.9 * (0.9 * v1 + grad(loss, w1)));
        b1 = b1 - 0.1 * (grad(loss, b1) + 0.9 * (0.9 * c1 + grad(loss, b1)));
        w2 = w2 - 0.1 * (grad(loss, w2) + 0.9 * (0.9 * v2 + grad(loss, w2)));
        b2 = b2 - 0.1 * (grad(loss, b2) + 0.9 * (0.9 * c2 + grad(loss, b2)));
    }
}

graph! {
    /// Adam, lr 0.01, β1 0.9, β2 0.999, ε 1e-8; `q1`, `q2` carry the bias
    /// corrections 1 − β1ᵗ and 1 − β2ᵗ of the steps so far (0 before the
    /// first), updated as `q ← (1 − β) + β·q`: computing `1 − β2ᵗ` from a
    /// carried `β2ᵗ` instead would lose ~5 digits to cancellation in `f32`
    /// (1 − 0.998 has a relative rounding error of 3e-5), and the
    /// trajectory's losses drift by 1e-5 relative, 20 times the float32
    /// numpy run of `training.py`.
    struct Adam {
        input x: [n, 64];
        input labels: [n] as usize;
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        var m1: [64, 32];
        var mb1: [32];
        var m2: [32, 10];
        var mb2: [10];
        var s1: [64, 32];
        var sb1: [32];
        var s2: [32, 10];
        var sb2: [10];
        var q1: [];
        var q2: [];
        let h = relu(matmul(x, w1) + b1);
        output loss = mean(softmax_cross_entropy(matmul(h, w2) + b2, labels));
        // 1 − βᵗ for this step t, from 1 − βᵗ⁻¹ without cancellation.
        let c1 = (1.0 - 0.9) + 0.9 * q1;
        let c2 = (1.0 - 0.999) + 0.999 * q2;
        q1 = c1;
        q2 = c2;
        let g1 = grad(loss, w1);
        let gb1 = grad(loss, b1);
        let g2 = grad(loss, w2);
        let gb2 = grad(loss, b2);
        let m1_new = 0.9 * m1 + (1.0 - 0.9) * g1;
        let mb1_new = 0.9 * mb1 + (1.0 - 0.9) * gb1;
        let m2_new = 0.9 * m2 + (1.0 - 0.9) * g2;
        let mb2_new = 0.9 * mb2 + (1.0 - 0.9) * gb2;
        let s1_new = 0.999 * s1 + (1.0 - 0.999) * g1 * g1;
        let sb1_new = 0.999 * sb1 + (1.0 - 0.999) * gb1 * gb1;
        let s2_new = 0.999 * s2 + (1.0 - 0.999) * g2 * g2;
        let sb2_new = 0.999 * sb2 + (1.0 - 0.999) * gb2 * gb2;
        m1 = m1_new;
        mb1 = mb1_new;
        m2 = m2_new;
        mb2 = mb2_new;
        s1 = s1_new;
        sb1 = sb1_new;
        s2 = s2_new;
        sb2 = sb2_new;
        w1 = w1 - 0.01 * (m1_new / c1) / (sqrt(s1_new / c2) + 1e-8);
        b1 = b1 - 0.01 * (mb1_new / c1) / (sqrt(sb1_new / c2) + 1e-8);
        w2 = w2 - 0.01 * (m2_new / c1) / (sqrt(s2_new / c2) + 1e-8);
        b2 = b2 - 0.01 * (mb2_new / c1) / (sqrt(sb2_new / c2) + 1e-8);
    }
}

graph! {
    /// `AdamW`: Adam plus decoupled weight decay 0.01 on the weights from
    /// before the step.
    struct AdamW {
        input x: [n, 64];
        input labels: [n] as usize;
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        var m1: [64, 32];
        var mb1: [32];
        var m2: [32, 10];
        var mb2: [10];
        var s1: [64, 32];
        var sb1: [32];
        var s2: [32, 10];
        var sb2: [10];
        var q1: [];
        var q2: [];
        let h = relu(matmul(x, w1) + b1);
        output loss = mean(softmax_cross_entropy(matmul(h, w2) + b2, labels));
        let c1 = (1.0 - 0.9) + 0.9 * q1;
        let c2 = (1.0 - 0.999) + 0.999 * q2;
        q1 = c1;
        q2 = c2;
        let g1 = grad(loss, w1);
        let gb1 = grad(loss, b1);
        let g2 = grad(loss, w2);
        let gb2 = grad(loss, b2);
        let m1_new = 0.9 * m1 + (1.0 - 0.9) * g1;
        let mb1_new = 0.9 * mb1 + (1.0 - 0.9) * gb1;
        let m2_new = 0.9 * m2 + (1.0 - 0.9) * g2;
        let mb2_new = 0.9 * mb2 + (1.0 - 0.9) * gb2;
        let s1_new = 0.999 * s1 + (1.0 - 0.999) * g1 * g1;
        let sb1_new = 0.999 * sb1 + (1.0 - 0.999) * gb1 * gb1;
        let s2_new = 0.999 * s2 + (1.0 - 0.999) * g2 * g2;
        let sb2_new = 0.999 * sb2 + (1.0 - 0.999) * gb2 * gb2;
        m1 = m1_new;
        mb1 = mb1_new;
        m2 = m2_new;
        mb2 = mb2_new;
        s1 = s1_new;
        sb1 = sb1_new;
        s2 = s2_new;
        sb2 = sb2_new;
        w1 = w1 - 0.01 * ((m1_new / c1) / (sqrt(s1_new / c2) + 1e-8) + 0.01 * w1);
        b1 = b1 - 0.01 * ((mb1_new / c1) / (sqrt(sb1_new / c2) + 1e-8) + 0.01 * b1);
        w2 = w2 - 0.01 * ((m2_new / c1) / (sqrt(s2_new / c2) + 1e-8) + 0.01 * w2);
        b2 = b2 - 0.01 * ((mb2_new / c1) / (sqrt(sb2_new / c2) + 1e-8) + 0.01 * b2);
    }
}

graph! {
    /// Adam on gradients scaled by `min(1, 1 / ‖g‖)`, the global norm over
    /// all four gradients (also an output, checked against the fixture).
    struct AdamClip {
        input x: [n, 64];
        input labels: [n] as usize;
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        var m1: [64, 32];
        var mb1: [32];
        var m2: [32, 10];
        var mb2: [10];
        var s1: [64, 32];
        var sb1: [32];
        var s2: [32, 10];
        var sb2: [10];
        var q1: [];
        var q2: [];
        let h = relu(matmul(x, w1) + b1);
        output loss = mean(softmax_cross_entropy(matmul(h, w2) + b2, labels));
        output norm = sqrt(
            sum(square(grad(loss, w1))) + sum(square(grad(loss, b1)))
                + sum(square(grad(loss, w2))) + sum(square(grad(loss, b2)))
        );
        let scale = minimum(1.0, 1.0 / norm);
        let c1 = (1.0 - 0.9) + 0.9 * q1;
        let c2 = (1.0 - 0.999) + 0.999 * q2;
        q1 = c1;
        q2 = c2;
        let g1 = grad(loss, w1) * scale;
        let gb1 = grad(loss, b1) * scale;
        let g2 = grad(loss, w2) * scale;
        let gb2 = grad(loss, b2) * scale;
        let m1_new = 0.9 * m1 + (1.0 - 0.9) * g1;
        let mb1_new = 0.9 * mb1 + (1.0 - 0.9) * gb1;
        let m2_new = 0.9 * m2 + (1.0 - 0.9) * g2;
        let mb2_new = 0.9 * mb2 + (1.0 - 0.9) * gb2;
        let s1_new = 0.999 * s1 + (1.0 - 0.999) * g1 * g1;
        let sb1_new = 0.999 * sb1 + (1.0 - 0.999) * gb1 * gb1;
        let s2_new = 0.999 * s2 + (1.0 - 0.999) * g2 * g2;
        let sb2_new = 0.999 * sb2 + (1.0 - 0.999) * gb2 * gb2;
        m1 = m1_new;
        mb1 = mb1_new;
        m2 = m2_new;
        mb2 = mb2_new;
        s1 = s1_new;
        sb1 = sb1_new;
        s2 = s2_new;
        sb2 = sb2_new;
        w1 = w1 - 0.01 * (m1_new / c1) / (sqrt(s1_new / c2) + 1e-8);
        b1 = b1 - 0.01 * (mb1_new / c1) / (sqrt(sb1_new / c2) + 1e-8);
        w2 = w2 - 0.01 * (m2_new / c1) / (sqrt(s2_new / c2) + 1e-8);
        b2 = b2 - 0.01 * (mb2_new / c1) / (sqrt(sb2_new / c2) + 1e-8);
    }
}

/// An optimizer's state: none (SGD), a velocity (momentum, Nesterov), or
/// Adam's moments and step count.
struct State {
    first: Params,
    second: Params,
    t: i32,
}

impl State {
    fn zeros() -> Self {
        State {
            first: Params::zeros(),
            second: Params::zeros(),
            t: 0,
        }
    }

    /// The stored state of a run (`velocity`, or `t`, `m` and `v`).
    fn read(run: &Json) -> Self {
        match run.get("state") {
            None => State::zeros(),
            Some(state) => match state.get("velocity") {
                Some(velocity) => State {
                    first: Params::read(velocity),
                    ..State::zeros()
                },
                None => State {
                    first: Params::read(get(state, "m")),
                    second: Params::read(get(state, "v")),
                    t: i32::try_from(get(state, "t").index()).expect("small"),
                },
            },
        }
    }

    /// The bias correction 1 − βᵗ in f32, as a variable carries it.
    #[allow(clippy::cast_possible_truncation)]
    fn correction(beta: f32, t: i32) -> f32 {
        (1.0 - f64::from(beta).powi(t)) as f32
    }
}

/// The common shape of the runs: the loss, a step, the parameters and the
/// optimizer state by its fixture names.
trait Run {
    fn loss(&self, x: &ArrayD<f32>, labels: &ArrayD<usize>) -> f32;
    fn step(&mut self, x: &ArrayD<f32>, labels: &ArrayD<usize>);
    fn params(&self) -> Params;
    fn state(&self) -> Vec<(&'static str, Params)>;
    /// The global gradient norm at the current weights (`AdamClip` only).
    fn norm(&self, _x: &ArrayD<f32>, _labels: &ArrayD<usize>) -> Option<f32> {
        None
    }
}

macro_rules! run {
    ($graph:ident, $build:ident, |$p:ident, $s:ident| $new:expr, $($state:tt)*) => {
        impl Run for $graph {
            fn loss(&self, x: &ArrayD<f32>, labels: &ArrayD<usize>) -> f32 {
                $graph::loss(self, view(x), view(labels)).unwrap()
            }
            fn step(&mut self, x: &ArrayD<f32>, labels: &ArrayD<usize>) {
                self.update(view(x), view(labels)).unwrap();
            }
            fn params(&self) -> Params {
                Params {
                    w1: self.w1().to_owned(),
                    b1: self.b1().to_owned(),
                    w2: self.w2().to_owned(),
                    b2: self.b2().to_owned(),
                }
            }
            $($state)*
        }

        #[allow(unused_variables)]
        fn $build($p: Params, $s: State) -> Box<dyn Run> {
            Box::new($new.unwrap())
        }
    };
}

macro_rules! velocity {
    () => {
        fn state(&self) -> Vec<(&'static str, Params)> {
            vec![(
                "velocity",
                Params {
                    w1: self.v1().to_owned(),
                    b1: self.c1().to_owned(),
                    w2: self.v2().to_owned(),
                    b2: self.c2().to_owned(),
                },
            )]
        }
    };
}

macro_rules! moments {
    () => {
        fn state(&self) -> Vec<(&'static str, Params)> {
            let q1 = f64::from(self.q1());
            assert!(
                (q1 - f64::from(State::correction(0.9, 10))).abs() < 1e-6,
                "1 − β1ᵗ: {q1}"
            );
            vec![
                (
                    "m",
                    Params {
                        w1: self.m1().to_owned(),
                        b1: self.mb1().to_owned(),
                        w2: self.m2().to_owned(),
                        b2: self.mb2().to_owned(),
                    },
                ),
                (
                    "v",
                    Params {
                        w1: self.s1().to_owned(),
                        b1: self.sb1().to_owned(),
                        w2: self.s2().to_owned(),
                        b2: self.sb2().to_owned(),
                    },
                ),
            ]
        }
    };
}

macro_rules! adam_new {
    ($graph:ident, $p:ident, $s:ident) => {
        $graph::new(
            $p.w1,
            $p.b1,
            $p.w2,
            $p.b2,
            $s.first.w1,
            $s.first.b1,
            $s.first.w2,
            $s.first.b2,
            $s.second.w1,
            $s.second.b1,
            $s.second.w2,
            $s.second.b2,
            State::correction(0.9, $s.t),
            State::correction(0.999, $s.t),
        )
    };
}

run!(
    Sgd,
    build_sgd,
    |p, s| Sgd::new(p.w1, p.b1, p.w2, p.b2),
    fn state(&self) -> Vec<(&'static str, Params)> {
        Vec::new()
    }
);
run!(Momentum, build_momentum, |p, s| {
    let v = s.first;
    Momentum::new(p.w1, p.b1, p.w2, p.b2, v.w1, v.b1, v.w2, v.b2)
}, velocity!(););
run!(MomentumFromOldVelocity, build_old_velocity, |p, s| {
    let v = s.first;
    MomentumFromOldVelocity::new(p.w1, p.b1, p.w2, p.b2, v.w1, v.b1, v.w2, v.b2)
}, velocity!(););
run!(Nesterov, build_nesterov, |p, s| {
    let v = s.first;
    Nesterov::new(p.w1, p.b1, p.w2, p.b2, v.w1, v.b1, v.w2, v.b2)
}, velocity!(););
run!(Adam, build_adam, |p, s| adam_new!(Adam, p, s), moments!(););
run!(AdamW, build_adamw, |p, s| adam_new!(AdamW, p, s), moments!(););
run!(AdamClip, build_adam_clip, |p, s| adam_new!(AdamClip, p, s),
    moments!();
    fn norm(&self, x: &ArrayD<f32>, labels: &ArrayD<usize>) -> Option<f32> {
        Some(AdamClip::norm(self, view(x), view(labels)).unwrap())
    }
);

type Build = fn(Params, State) -> Box<dyn Run>;

/// Runs as many updates as `losses` has, checking the loss before each
/// (and the gradient norm, where the run records it) and the loss after
/// the last against `final_loss`; returns the worst relative loss error.
fn drive(
    context: &str,
    run: &mut dyn Run,
    data: (&ArrayD<f32>, &ArrayD<usize>),
    losses: &Json,
    norms: Option<&Json>,
    final_loss: &Json,
) -> f64 {
    let (x, labels) = data;
    let mut worst = 0.0_f64;
    let mut note = |got: f32, want: &Json| {
        worst = worst.max((f64::from(got) - want.float()).abs() / want.float().abs());
    };
    for (step, want) in losses.items().iter().enumerate() {
        let got = run.loss(x, labels);
        note(got, want);
        assert_loss(
            &format!("{context}, before step {}", step + 1),
            got,
            want,
            LOSS_REL,
        );
        if let Some(norms) = norms {
            let got = run.norm(x, labels).expect("a norm");
            let want = &norms.items()[step];
            assert_loss(
                &format!("{context}, gradient norm at step {}", step + 1),
                got,
                want,
                LOSS_REL,
            );
        }
        run.step(x, labels);
    }
    let got = run.loss(x, labels);
    note(got, final_loss);
    assert_loss(&format!("{context}, final"), got, final_loss, LOSS_REL);
    worst
}

/// One run of `sgd_trajectory.json` by name, written as `build` makes it:
/// 10 steps from the initial weights (losses, final weights and state),
/// then 5 resumed from the stored final weights and state.
fn trajectory(name: &str, fixture_run: &str, build: Build) {
    let root = fixture("sgd_trajectory.json");
    let x = floats(get(&root, "x"));
    let labels = integers(get(&root, "labels"));
    let run = get(&root, "runs")
        .items()
        .iter()
        .find(|run| get(run, "name").text() == fixture_run)
        .unwrap_or_else(|| panic!("no run `{fixture_run}`"));
    // The hyperparameters the graphs spell out.
    let hyper = |key: &str| run.get(key).map(single);
    match fixture_run {
        "sgd" => assert_eq!(hyper("lr"), Some(0.1)),
        "momentum" | "nesterov" => {
            assert_eq!((hyper("lr"), hyper("momentum")), (Some(0.1), Some(0.9)));
            let nesterov = get(run, "nesterov") == &Json::Bool(true);
            assert_eq!(nesterov, fixture_run == "nesterov");
        }
        _ => {
            let adam = [
                hyper("lr"),
                hyper("beta1"),
                hyper("beta2"),
                hyper("epsilon"),
            ];
            assert_eq!(adam, [Some(0.01), Some(0.9), Some(0.999), Some(1e-8)]);
            assert_eq!(
                hyper("weight_decay"),
                (fixture_run == "adamw").then_some(0.01)
            );
            assert_eq!(
                hyper("clip_global_norm"),
                (fixture_run == "adam_clip").then_some(1.0)
            );
        }
    }
    assert_eq!(get(&root, "steps").index(), 10);
    assert_eq!(get(run, "losses").items().len(), 10);

    let mut graph = build(Params::read(get(&root, "initial")), State::zeros());
    let norms = run.get("grad_norms");
    let worst = drive(
        name,
        graph.as_mut(),
        (&x, &labels),
        get(run, "losses"),
        norms,
        get(run, "final_loss"),
    );
    graph
        .params()
        .check(&format!("{name}: final"), get(run, "final"), TRAJECTORY);
    let stored = run.get("state");
    let state = graph.state();
    assert_eq!(stored.is_some(), !state.is_empty(), "{name}: state");
    for (part, value) in state {
        value.check_state(&format!("{name}: {part}"), get(stored.unwrap(), part));
    }

    // Resume from the stored float32 final weights and state.
    let mut graph = build(Params::read(get(run, "final")), State::read(run));
    let resumed = drive(
        &format!("{name} resumed"),
        graph.as_mut(),
        (&x, &labels),
        get(run, "resume_losses"),
        None,
        get(run, "resume_final_loss"),
    );
    eprintln!("{name}: worst loss error {worst:.2e} relative, resumed {resumed:.2e}");
}

#[test]
fn sgd_trajectory_matches_jax() {
    trajectory("sgd", "sgd", build_sgd);
}

#[test]
fn momentum_trajectory_matches_jax() {
    trajectory("momentum", "momentum", build_momentum);
}

#[test]
fn nesterov_trajectory_matches_jax() {
    trajectory("nesterov", "nesterov", build_nesterov);
}

/// `w -= 0.1·(0.9·v + g)` next to `v = 0.9·v + g` is momentum, not
/// Nesterov: the weight update reads `v` from before the step. Checked
/// against JAX's momentum run.
#[test]
fn updates_read_the_old_velocity() {
    trajectory(
        "momentum from the old velocity",
        "momentum",
        build_old_velocity,
    );
}

#[test]
fn adam_trajectory_matches_jax() {
    trajectory("adam", "adam", build_adam);
}

#[test]
fn adamw_trajectory_matches_jax() {
    trajectory("adamw", "adamw", build_adamw);
}

#[test]
fn adam_with_clipping_trajectory_matches_jax() {
    let root = fixture("sgd_trajectory.json");
    let run = get(&root, "runs")
        .items()
        .iter()
        .find(|r| get(r, "name").text() == "adam_clip")
        .unwrap();
    // Not vacuous: some steps clip, some do not.
    let clipped = get(run, "clipped_steps").items().len();
    assert!(0 < clipped && clipped < 10, "{clipped} clipped steps");
    trajectory("adam_clip", "adam_clip", build_adam_clip);
}

/// The training loop as it would be written for speed: one workspace for
/// every `loss_with` and `update_with` call, so every step reuses the
/// storage (and the in-place updates) of the one before. The graph starts
/// from `zeros()` (zero optimizer state, bias corrections included) with
/// the initial weights set.
macro_rules! with_one_workspace {
    ($graph:ident, $workspace:ident, $run:literal) => {{
        let root = fixture("sgd_trajectory.json");
        let x = floats(get(&root, "x"));
        let labels = integers(get(&root, "labels"));
        let run = get(&root, "runs")
            .items()
            .iter()
            .find(|run| get(run, "name").text() == $run)
            .unwrap();
        let mut graph = $graph::zeros();
        let initial = Params::read(get(&root, "initial"));
        graph.set_w1(initial.w1).unwrap();
        graph.set_b1(initial.b1).unwrap();
        graph.set_w2(initial.w2).unwrap();
        graph.set_b2(initial.b2).unwrap();
        let mut workspace = $workspace::default();
        for (step, want) in get(run, "losses").items().iter().enumerate() {
            let got = graph
                .loss_with(&mut workspace, view(&x), view(&labels))
                .unwrap();
            let context = format!("{} with one workspace, before step {}", $run, step + 1);
            assert_loss(&context, got, want, LOSS_REL);
            graph
                .update_with(&mut workspace, view(&x), view(&labels))
                .unwrap();
        }
        let got = graph
            .loss_with(&mut workspace, view(&x), view(&labels))
            .unwrap();
        let context = format!("{} with one workspace, final", $run);
        assert_loss(&context, got, get(run, "final_loss"), LOSS_REL);
        Run::params(&graph).check(&context, get(run, "final"), TRAJECTORY);
    }};
}

#[test]
fn trajectories_with_one_workspace() {
    with_one_workspace!(Sgd, SgdWorkspace, "sgd");
    with_one_workspace!(Nesterov, NesterovWorkspace, "nesterov");
    with_one_workspace!(AdamClip, AdamClipWorkspace, "adam_clip");
}
