//! Two end-to-end models written with `graph!`, checked against numpy forward
//! passes with the same weights (`tests/reference/models.py`, which computes
//! in float64 from the same float32 weights and inputs).

use std::path::PathBuf;

use staticflow::graph;
use staticflow::ndarray::{Array, Array1, Array2, Array4, ArrayD, Dimension, IxDyn};

/// The models must agree with numpy to this relative error, measured
/// norm-wise: `max |actual - numpy| / max |numpy|` over each output tensor.
/// (Elementwise, a logit near zero that is a sum of 256 products of order 1
/// carries the f32 rounding of those products, not of its own size.)
const RELATIVE: f32 = 1e-5;

fn fixture(name: &str) -> ArrayD<f32> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/fixtures/models");
    let manifest =
        std::fs::read_to_string(dir.join("models.json")).expect("models.json is committed");
    let shape = shape_of(&manifest, name);
    let bytes = std::fs::read(dir.join(format!("{name}.bin"))).expect("fixture is committed");
    let values: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape), values).expect("fixture size matches its shape")
}

/// Reads `"name": [d0, d1, ...]` from the manifest.
fn shape_of(manifest: &str, name: &str) -> Vec<usize> {
    let key = format!("\"{name}\": [");
    let start = manifest.find(&key).expect("tensor listed in models.json") + key.len();
    let end = start + manifest[start..].find(']').expect("closing bracket");
    manifest[start..end]
        .split(',')
        .map(|d| d.trim().parse().expect("a dimension"))
        .collect()
}

fn load<D: Dimension>(name: &str) -> Array<f32, D> {
    fixture(name)
        .into_dimensionality()
        .expect("fixture has the rank the model declares")
}

fn assert_matches_numpy<D: Dimension>(actual: &Array<f32, D>, expected: &ArrayD<f32>) {
    assert_eq!(actual.shape(), expected.shape());
    let scale = expected.iter().fold(0.0_f32, |m, e| m.max(e.abs()));
    let error = actual
        .iter()
        .zip(expected)
        .fold(0.0_f32, |m, (a, e)| m.max((a - e).abs()));
    let relative = error / scale;
    println!("max |error| {error:e}, relative to max |value| {scale}: {relative:e}");
    assert!(
        relative <= RELATIVE,
        "relative error {relative:e} exceeds {RELATIVE:e}"
    );
}

graph! {
    /// The MLP 64-256-256-10 of the issue.
    struct Mlp {
        input x: [n, 64];
        var w1: [64, 256];
        var b1: [256];
        var w2: [256, 256];
        var b2: [256];
        var w3: [256, 10];
        var b3: [10];
        let h1 = relu(matmul(x, w1) + b1);
        let h2 = relu(matmul(h1, w2) + b2);
        output logits: [n, 10] = matmul(h2, w3) + b3;
        output probabilities = softmax(logits);
    }
}

#[test]
fn mlp_matches_numpy() {
    let mlp = Mlp::new(
        load("mlp_w1"),
        load("mlp_b1"),
        load("mlp_w2"),
        load("mlp_b2"),
        load("mlp_w3"),
        load("mlp_b3"),
    )
    .unwrap();
    let x: Array2<f32> = load("digits_x");
    let out = mlp.run(x.view()).unwrap();
    assert_matches_numpy(&out.logits, &fixture("mlp_logits"));
    assert_matches_numpy(&out.probabilities, &fixture("mlp_probabilities"));
}

graph! {
    /// The CNN of the issue, on 8x8x1 images.
    struct Cnn {
        input x: [n, 64];
        var k1: [3, 3, 1, 8];
        var c1: [8];
        var k2: [3, 3, 8, 16];
        var c2: [16];
        var w: [16, 10];
        var b: [10];
        let images = reshape(x, [n, 8, 8, 1]);
        let a1 = relu(conv2d(images, k1, padding = same) + c1);
        let p1: [n, 4, 4, 8] = max_pool2d(a1, window = 2);
        let a2 = relu(conv2d(p1, k2, padding = same) + c2);
        let pooled: [n, 16] = mean(a2, axis = [1, 2]);
        output probabilities = softmax(matmul(pooled, w) + b);
    }
}

#[test]
fn cnn_matches_numpy() {
    let k1: Array4<f32> = load("cnn_k1");
    let c1: Array1<f32> = load("cnn_c1");
    let cnn = Cnn::new(
        k1,
        c1,
        load("cnn_k2"),
        load("cnn_c2"),
        load("cnn_w"),
        load("cnn_b"),
    )
    .unwrap();
    let x: Array2<f32> = load("digits_x");
    let probabilities = cnn.probabilities(x.view()).unwrap();
    assert_matches_numpy(&probabilities, &fixture("cnn_probabilities"));
}

#[test]
fn empty_batches_flow_through_both_models() {
    let empty = Array2::<f32>::zeros((0, 64));
    let probabilities = Cnn::zeros().probabilities(empty.view()).unwrap();
    assert_eq!(probabilities.shape(), &[0, 10]);
    let out = Mlp::zeros().run(empty.view()).unwrap();
    assert_eq!(out.logits.shape(), &[0, 10]);
}
