//! Training steps (`step fit = minimize(loss, ..)`): the gradients, the
//! optimizer's state and its updates are ordinary nodes that the optimizer
//! folds, merges, fuses and plans with the forward pass, so each step of an
//! optimized graph must agree with its `#[optimize(off)]` twin: the loss it
//! returns, and afterwards every variable, the optimizer's state included
//! (all of them: the saved files are compared whole).
//!
//! Both twins start from the same random parameters and zero state (the
//! files loaded hold the parameters only, so the state starts at zero, as
//! it does for `new`), and take several steps on fresh random batches of
//! several sizes, through `fit` and `fit_with` in turn (workspaces reused
//! across batch sizes). Inputs are plain numbers here: a NaN in a batch
//! would make every later value NaN, which proves nothing about the steps.
//!
//! Graphs whose forward and backward passes use only elementwise ops and
//! reductions must agree bit for bit ([`EXACT`]): fusion evaluates the same
//! scalar functions in the same order, and the optimizer's update
//! expressions (`μ·v + g`, `m / c₁`, `√v̂ + ε`, `w − lr·d`) fuse into one
//! pass computed in the variable. Graphs with dense layers agree to
//! [`ROUNDING`], for the dense kernels' reordered sums; a step amplifies a
//! gradient's rounding by at most `lr` (SGD) or `lr / √v̂` of a unit-scale
//! quantity (Adam), so a handful of steps stays far inside the bound.

use staticflow::ndarray::{ArrayD, ArrayViewD, IxDyn};
use staticflow::summary::Summary;
use staticflow::weights::{save_safetensors, Weights};
use staticflow::Dim;

use crate::{count, label_of, workspaces, Case, Rng, EXACT, ROUNDING};

/// Plain inputs (no special values), batches growing and shrinking.
const STEP_CASES: [Case; 3] = [
    Case {
        seed: 0x7a1e_0001,
        n: 4,
        specials: false,
    },
    Case {
        seed: 0x7a1e_0002,
        n: 9,
        specials: false,
    },
    Case {
        seed: 0x7a1e_0003,
        n: 1,
        specials: false,
    },
];

/// Steps per case.
const STEPS: usize = 5;

/// A safetensors file with uniform random values for every variable of the
/// graph `summary` describes except the optimizer state (the variables
/// named `<step>_..` for the steps listed), which thus starts at zero.
fn random_parameters(summary: &Summary, steps: &[&str], rng: &mut Rng) -> Vec<u8> {
    let is_state = |name: &str| {
        steps
            .iter()
            .any(|step| name.starts_with(&format!("{step}_")))
    };
    let arrays: Vec<(&str, ArrayD<f32>)> = summary
        .nodes
        .iter()
        .filter(|node| node.op == "var")
        .filter_map(|node| {
            let name = node.name.expect("variables are named");
            if is_state(name) {
                return None;
            }
            let shape: Vec<usize> = node
                .shape
                .iter()
                .map(|dim| match dim {
                    Dim::Fixed(size) => *size,
                    Dim::Symbol(symbol) => panic!("variables have literal shapes, not `{symbol}`"),
                })
                .collect();
            Some((
                name,
                ArrayD::from_shape_simple_fn(IxDyn(&shape), || rng.uniform()),
            ))
        })
        .collect();
    assert!(!arrays.is_empty());
    let views: Vec<(&str, ArrayViewD<'_, f32>)> =
        arrays.iter().map(|(name, a)| (*name, a.view())).collect();
    save_safetensors(&views)
}

/// Both twins, with the same random parameters and zero state.
macro_rules! trainable_pair {
    ($opt:ident, $off:ident, [$($step:literal),+], $rng:expr) => {{
        let bytes = random_parameters(&$opt::SUMMARY, &[$($step),+], $rng);
        let load = |bytes: Vec<u8>| Weights::from_safetensors_bytes(bytes).unwrap();
        (
            $opt::from_weights(load(bytes.clone()), true).unwrap(),
            $off::from_weights(load(bytes), true).unwrap(),
        )
    }};
}

/// One step `$fit` on both twins with the same inputs (`$fit` on even
/// steps, `$with` with the workspaces given on odd ones); the losses agree.
macro_rules! step_both {
    ($what:expr, $tol:expr, $step:expr, $fit:ident / $with:ident,
     $opt:expr, $off:expr, $wa:expr, $wb:expr, ($($input:expr),* $(,)?)) => {{
        let (optimized, reference) = if $step.is_multiple_of(2) {
            ($opt.$fit($($input),*).unwrap(), $off.$fit($($input),*).unwrap())
        } else {
            (
                $opt.$with($wa, $($input),*).unwrap(),
                $off.$with($wb, $($input),*).unwrap(),
            )
        };
        crate::agree(&format!("{}, step {}: the loss", $what, $step), $tol, &optimized, &reference);
        assert!(reference.is_finite(), "{}: a finite loss", $what);
    }};
}

/// The optimized twin fused what it should, and the reference nothing.
#[track_caller]
fn fused(optimized: &str, reference: &str) {
    assert!(count(optimized, "fused:") >= 2, "{optimized}");
    assert_eq!(count(reference, "fused:"), 0);
    assert_eq!(count(reference, "dense:"), 0);
}

// Logistic regression trained by SGD with Nesterov momentum and weight
// decay, at a learning rate given per step: elementwise ops and reductions
// only, so bit for bit.
twins!(LogisticMomentum, LogisticMomentumOff {
    input x: [n, 5];
    input y: [n];
    input lr: [];
    var w: [5];
    var b: [];
    let z = sum(x * w, axis = 1) + b;
    output loss = mean(softplus(-(y * z)));
    step fit = minimize(loss, sgd(lr = lr, momentum = 0.9, nesterov = true, weight_decay = 0.01));
});

#[test]
fn momentum_step() {
    written_alike!(LogisticMomentum, LogisticMomentumOff);
    fused(LogisticMomentum::DOT, LogisticMomentumOff::DOT);
    let (mut wa, mut wb) = workspaces();
    for case in STEP_CASES {
        let mut rng = case.rng();
        let (mut opt, mut off) =
            trainable_pair!(LogisticMomentum, LogisticMomentumOff, ["fit"], &mut rng);
        let initial = off.to_safetensors_bytes();
        for step in 0..STEPS {
            let x = rng.array((case.n, 5));
            let y = rng.array(case.n).mapv(f32::signum);
            let lr = 0.5 / (1.0 + f32::from(u8::try_from(step).unwrap()));
            step_both!(
                "momentum",
                EXACT,
                step,
                fit / fit_with,
                opt,
                off,
                &mut wa,
                &mut wb,
                (x.view(), y.view(), lr)
            );
            variables_agree!(EXACT, opt, off);
        }
        assert!(off.to_safetensors_bytes() != initial, "the steps trained");
        assert!(off
            .fit_velocity_w()
            .iter()
            .all(|v| v.is_finite() && *v != 0.0));
    }
}

// The same model under Adam with clipping and under `AdamW`, in one graph:
// two steps, each with its own state.
twins!(LogisticAdam, LogisticAdamOff {
    input x: [n, 5];
    input y: [n];
    var w: [5];
    var b: [];
    let z = sum(x * w, axis = 1) + b;
    output loss = mean(softplus(-(y * z)));
    step clipped = minimize(loss, adam(lr = 0.05, clip_norm = 0.25));
    step decoupled = minimize(loss, adamw(lr = 0.02, beta1 = 0.8, beta2 = 0.99, epsilon = 1e-6, weight_decay = 0.1));
});

#[test]
fn adam_steps() {
    written_alike!(LogisticAdam, LogisticAdamOff);
    fused(LogisticAdam::DOT, LogisticAdamOff::DOT);
    let (mut wa, mut wb) = workspaces();
    for case in STEP_CASES {
        let mut rng = case.rng();
        let (mut opt, mut off) = trainable_pair!(
            LogisticAdam,
            LogisticAdamOff,
            ["clipped", "decoupled"],
            &mut rng
        );
        for step in 0..STEPS {
            let x = rng.array((case.n, 5));
            let y = rng.array(case.n).mapv(f32::signum);
            step_both!(
                "adam, clipped",
                EXACT,
                step,
                clipped / clipped_with,
                opt,
                off,
                &mut wa,
                &mut wb,
                (x.view(), y.view())
            );
            variables_agree!(EXACT, opt, off);
            step_both!(
                "adamw",
                EXACT,
                step,
                decoupled / decoupled_with,
                opt,
                off,
                &mut wa,
                &mut wb,
                (x.view(), y.view())
            );
            variables_agree!(EXACT, opt, off);
        }
        // Both steps ran, each on its own state.
        assert!(off.clipped_bias1() > 0.0 && off.decoupled_bias1() > 0.0);
        assert_ne!(off.clipped_bias1(), off.decoupled_bias1());
        assert!(off.clipped_m_w().iter().all(|m| *m != 0.0));
    }
}

// An MLP on class indices, trained by plain SGD: dense layers, and the
// updates fused and computed in the variables (the weights' with their
// gradients' products, `optimize::fuse_updates`). The hidden layer's dense node
// takes relu too: relu's gradient reads relu's output (`h`), not the
// pre-activation, which so needs no storage of its own.
twins!(MlpSgdStep, MlpSgdStepOff {
    input x: [n, 6];
    input labels: [n] as usize;
    var w1: [6, 12];
    var b1: [12];
    var w2: [12, 4];
    var b2: [4];
    let h = relu(matmul(x, w1) + b1);
    let logits = matmul(h, w2) + b2;
    output loss = mean(softmax_cross_entropy(logits, labels));
    step fit = minimize(loss, sgd(lr = 0.1));
});

#[test]
fn mlp_sgd_step() {
    written_alike!(MlpSgdStep, MlpSgdStepOff);
    assert_eq!(
        label_of(MlpSgdStep::DOT, "logits"),
        "logits\ndense: matmul(h, w2) + b2"
    );
    assert_eq!(
        label_of(MlpSgdStep::DOT, "h"),
        "h\ndense: relu(matmul(x, w1) + b1)"
    );
    // Each weight takes its update as its gradient is made
    // (`w1 += −0.1·xᵀ·δ`): no gradient of a weight is stored.
    assert_eq!(
        count(
            MlpSgdStep::DOT,
            "update: w1 + -0.1 * matmul(transpose(x), #"
        ),
        1
    );
    assert_eq!(
        count(
            MlpSgdStep::DOT,
            "update: w2 + -0.1 * matmul(transpose(h), #"
        ),
        1
    );
    assert_eq!(count(MlpSgdStep::DOT, "fused: b1 - (0.1 * #1)"), 1);
    assert_eq!(count(MlpSgdStepOff::DOT, "update:"), 0);
    assert_eq!(count(MlpSgdStepOff::DOT, "dense:"), 0);
    let (mut wa, mut wb) = workspaces();
    for case in STEP_CASES {
        let mut rng = case.rng();
        let (mut opt, mut off) = trainable_pair!(MlpSgdStep, MlpSgdStepOff, ["fit"], &mut rng);
        let initial = off.to_safetensors_bytes();
        for step in 0..STEPS {
            let x = rng.array((case.n, 6));
            let labels = rng.indices(case.n, 4);
            step_both!(
                "mlp sgd",
                ROUNDING,
                step,
                fit / fit_with,
                opt,
                off,
                &mut wa,
                &mut wb,
                (x.view(), labels.view())
            );
            variables_agree!(ROUNDING, opt, off);
        }
        assert!(off.to_safetensors_bytes() != initial, "the steps trained");
    }
}

// An MLP on probability labels with two steps: Adam with clipping over
// everything, and SGD with momentum fine-tuning the last layer.
twins!(MlpTwoSteps, MlpTwoStepsOff {
    input x: [n, 6];
    input targets: [n, 4];
    var w1: [6, 12];
    var b1: [12];
    var w2: [12, 4];
    var b2: [4];
    let h = tanh(matmul(x, w1) + b1);
    let logits = matmul(h, w2) + b2;
    output loss = mean(softmax_cross_entropy(logits, targets));
    step pretrain = minimize(loss, adam(lr = 0.01, clip_norm = 1.0));
    step finetune = minimize(loss, sgd(lr = 0.05, momentum = 0.5), vars = [w2, b2]);
});

#[test]
fn mlp_two_steps() {
    written_alike!(MlpTwoSteps, MlpTwoStepsOff);
    assert_eq!(
        label_of(MlpTwoSteps::DOT, "logits"),
        "logits\ndense: matmul(h, w2) + b2"
    );
    assert_eq!(count(MlpTwoSteps::DOT, "dense: matmul(x, w1) + b1"), 1);
    assert!(count(MlpTwoSteps::DOT, "fused:") >= 4);
    assert_eq!(count(MlpTwoStepsOff::DOT, "dense:"), 0);
    let (mut wa, mut wb) = workspaces();
    for case in STEP_CASES {
        let mut rng = case.rng();
        let (mut opt, mut off) = trainable_pair!(
            MlpTwoSteps,
            MlpTwoStepsOff,
            ["pretrain", "finetune"],
            &mut rng
        );
        for step in 0..STEPS {
            let x = rng.array((case.n, 6));
            // Rows of non-negative weights summing to 1.
            let mut targets = rng.array((case.n, 4)).mapv(f32::abs);
            for mut row in targets.rows_mut() {
                let total = row.sum();
                row.mapv_inplace(|v| v / total);
            }
            step_both!(
                "pretrain",
                ROUNDING,
                step,
                pretrain / pretrain_with,
                opt,
                off,
                &mut wa,
                &mut wb,
                (x.view(), targets.view())
            );
            variables_agree!(ROUNDING, opt, off);
            step_both!(
                "finetune",
                ROUNDING,
                step,
                finetune / finetune_with,
                opt,
                off,
                &mut wa,
                &mut wb,
                (x.view(), targets.view())
            );
            variables_agree!(ROUNDING, opt, off);
        }
        assert!(off.finetune_velocity_w2().iter().any(|v| *v != 0.0));
    }
}
