//! Training without `std`: variable updates and training steps of
//! `#[no_std]` graphs (fixed-size arrays, slice kernels, a fixed workspace,
//! no allocator) take the steps computed by hand and track the same graph
//! on the std path, optimizer state included.

use staticflow::graph;
use staticflow::ndarray::{array, Array1, Array2};

graph! {
    /// Updates that read each other's old values, and a scalar counter.
    #[no_std]
    struct Swap {
        input g: [2];
        var a: [2];
        var b: [2];
        var count: [];
        a = b;
        b = a + g;
        count = count + 1.0;
    }
}

#[test]
fn updates_read_every_old_value_before_any_is_stored() {
    let mut swap = Swap::new([1.0, 2.0], [3.0, 4.0], 0.0);
    swap.update(&[10.0, 20.0]);
    // a takes b's old value; b takes a's old value plus g.
    assert_eq!(swap.a(), &[3.0, 4.0]);
    assert_eq!(swap.b(), &[11.0, 22.0]);
    assert_eq!(*swap.count(), 1.0);
    let mut workspace = SwapWorkspace::new();
    swap.update_with(&mut workspace, &[0.0, 0.0]);
    assert_eq!(swap.a(), &[11.0, 22.0]);
    assert_eq!(swap.b(), &[3.0, 4.0]);
    assert_eq!(*swap.count(), 2.0);
}

macro_rules! regression {
    ($bare:ident, $std:ident, $optimizer:expr) => {
        graph! {
            /// Linear regression, mean squared error.
            #[no_std]
            struct $bare {
                input x: [4, 3];
                input t: [4, 2];
                var w: [3, 2];
                var b: [2];
                output y = matmul(x, w) + b;
                let loss = mse(y, t);
                step fit = minimize(loss, $optimizer);
            }
        }
        graph! {
            /// The same on the std path.
            struct $std {
                input x: [n, 3];
                input t: [n, 2];
                var w: [3, 2];
                var b: [2];
                output y = matmul(x, w) + b;
                let loss = mse(y, t);
                step fit = minimize(loss, $optimizer);
            }
        }
    };
}

regression!(PlainBare, PlainStd, sgd(lr = 0.1));
regression!(
    MomentumBare,
    MomentumStd,
    sgd(lr = 0.05, momentum = 0.9, nesterov = true)
);
regression!(AdamBare, AdamStd, adam(lr = 0.01, weight_decay = 0.01));
regression!(ClippedBare, ClippedStd, adamw(lr = 0.02, clip_norm = 0.5));

const X: [[f32; 3]; 4] = [
    [1.0, 0.0, 2.0],
    [0.0, 1.0, -1.0],
    [2.0, 1.0, 0.0],
    [-1.0, 0.5, 1.0],
];
const T: [[f32; 2]; 4] = [[1.0, 0.0], [0.0, 2.0], [3.0, 1.0], [-1.0, 0.5]];
const W: [[f32; 2]; 3] = [[0.1, -0.2], [0.3, 0.0], [-0.1, 0.2]];
const B: [f32; 2] = [0.05, -0.05];

/// One SGD step by hand in `f64`: `e = x·w + b − t`, `loss = Σe²/8`,
/// `w −= 0.1·2·xᵀe/8`, `b −= 0.1·2·Σ_rows e/8`.
#[test]
fn one_sgd_step_is_the_step_computed_by_hand() {
    let mut model = PlainBare::new(W, B);
    let loss = model.fit(&X, &T);
    let mut e = [[0.0_f64; 2]; 4];
    let mut expected_loss = 0.0;
    for r in 0..4 {
        for c in 0..2 {
            let y: f64 = (0..3)
                .map(|k| f64::from(X[r][k]) * f64::from(W[k][c]))
                .sum::<f64>()
                + f64::from(B[c]);
            e[r][c] = y - f64::from(T[r][c]);
            expected_loss += e[r][c] * e[r][c] / 8.0;
        }
    }
    assert!(
        (f64::from(loss) - expected_loss).abs() < 1e-6,
        "{loss} vs {expected_loss}"
    );
    for k in 0..3 {
        for c in 0..2 {
            let grad: f64 = (0..4).map(|r| f64::from(X[r][k]) * e[r][c]).sum::<f64>() * 2.0 / 8.0;
            let expected = f64::from(W[k][c]) - 0.1 * grad;
            assert!((f64::from(model.w()[k][c]) - expected).abs() < 1e-6);
        }
    }
    for c in 0..2 {
        let grad: f64 = (0..4).map(|r| e[r][c]).sum::<f64>() * 2.0 / 8.0;
        let expected = f64::from(B[c]) - 0.1 * grad;
        assert!((f64::from(model.b()[c]) - expected).abs() < 1e-6);
    }
}

fn std_inputs() -> (Array2<f32>, Array2<f32>, Array2<f32>, Array1<f32>) {
    let rows = |m: &[[f32; 3]]| Array2::from_shape_fn((m.len(), 3), |(i, j)| m[i][j]);
    let t = Array2::from_shape_fn((4, 2), |(i, j)| T[i][j]);
    let w = Array2::from_shape_fn((3, 2), |(i, j)| W[i][j]);
    (rows(&X), t, w, array![B[0], B[1]])
}

macro_rules! tracks {
    ($bare:ident, $std:ident) => {{
        let (x, t, w, b) = std_inputs();
        let mut bare = $bare::new(W, B);
        let mut std = $std::new(w, b).unwrap();
        let mut workspace = Default::default();
        let mut losses = Vec::new();
        for step in 0..40 {
            let on_bare = bare.fit_with(&mut workspace, &X, &T);
            let on_std = std.fit(x.view(), t.view()).unwrap();
            assert!(
                (on_bare - on_std).abs() <= 1e-5 * on_std.abs().max(1.0),
                "step {step}: {on_bare} without std, {on_std} with"
            );
            losses.push(on_bare);
        }
        for (a, b) in bare.w().as_flattened().iter().zip(std.w().iter()) {
            assert!((a - b).abs() <= 1e-5, "w: {a} vs {b}");
        }
        for (a, b) in bare.b().iter().zip(std.b().iter()) {
            assert!((a - b).abs() <= 1e-5, "b: {a} vs {b}");
        }
        losses
    }};
}

#[test]
fn sgd_with_nesterov_momentum_tracks_the_std_path() {
    let losses = tracks!(MomentumBare, MomentumStd);
    assert!(losses[39] < 0.5 * losses[0], "{losses:?}");
}

#[test]
fn adam_tracks_the_std_path() {
    let losses = tracks!(AdamBare, AdamStd);
    assert!(losses[39] < losses[0], "{losses:?}");
}

#[test]
fn adamw_with_clipped_gradients_tracks_the_std_path() {
    let losses = tracks!(ClippedBare, ClippedStd);
    assert!(losses[39] < losses[0], "{losses:?}");
}

#[test]
fn the_optimizer_state_lives_in_the_struct_and_the_backward_pass_in_the_workspace() {
    // w (3 × 2) and b (2): 8 floats. Momentum adds a velocity per weight;
    // Adam two moments per weight and its two bias-correction powers.
    assert_eq!(std::mem::size_of::<PlainBare>(), 8 * 4);
    assert_eq!(std::mem::size_of::<MomentumBare>(), 2 * 8 * 4);
    assert_eq!(std::mem::size_of::<AdamBare>(), (3 * 8 + 2) * 4);
    // The workspace is the constant's size, and holds more than the
    // forward pass alone (the 4 × 2 prediction is returned, in no slot).
    assert_eq!(
        PlainBare::WORKSPACE_BYTES,
        std::mem::size_of::<PlainBareWorkspace>()
    );
    const { assert!(PlainBare::WORKSPACE_BYTES >= 8 * 4) };
}

graph! {
    /// Fine-tuning with baked weights, where the optimizer drops a node
    /// declared before the trained variables (renumbering them): `new()`
    /// still starts `w2` and `b2` from the file.
    #[no_std]
    #[weights("tests/reference/fixtures/sklearn/digits_mlp.safetensors")]
    struct Tuned {
        input x: [2, 64];
        let _dropped = exp(x);
        input labels: [2] as usize;
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        let logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
        let loss = mean(softmax_cross_entropy(logits, labels));
        step tune = minimize(loss, sgd(lr = 0.01), vars = [w2, b2]);
    }
}

#[test]
fn trained_variables_start_from_the_file() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/fixtures/sklearn/digits_mlp.safetensors"
    );
    let mut file = staticflow::weights::Weights::from_safetensors_file(path).unwrap();
    let w2 = file
        .take::<staticflow::ndarray::Ix2>("w2", &[32, 10])
        .unwrap();
    let b2 = file.take::<staticflow::ndarray::Ix1>("b2", &[10]).unwrap();
    let tuned = Tuned::new();
    let flat: Vec<f32> = tuned.w2().as_flattened().to_vec();
    assert_eq!(flat, w2.iter().copied().collect::<Vec<f32>>());
    assert_eq!(
        tuned.b2().to_vec(),
        b2.iter().copied().collect::<Vec<f32>>()
    );
}
