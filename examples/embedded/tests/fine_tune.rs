//! On-device fine-tuning (`staticflow_embedded::fine_tune`): the `#[no_std]`
//! training step lowers the loss on the samples it sees, takes the step an
//! `f64` computation by hand takes, and tracks the std (ndarray) path step
//! for step.
#![cfg(feature = "fine-tune")]

use std::path::PathBuf;

use staticflow::graph;
use staticflow::ndarray::{Array1, Array2};
use staticflow_embedded::{fine_tune, FineTune, FineTuneWorkspace, TUNE_BATCH};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The first four held-out digits (rows 1437.. of the data, pixels / 16)
/// that the baked model gets wrong, with their true labels: what a device
/// would collect to adapt the model to its own user.
fn samples() -> ([[f32; 64]; TUNE_BATCH], [usize; TUNE_BATCH]) {
    let csv =
        std::fs::read_to_string(repo("tests/data/digits.csv")).expect("digits.csv is committed");
    let host = host_model();
    let wrong: Vec<(usize, Vec<f32>)> = csv
        .lines()
        .skip(1)
        .skip(1437)
        .map(|line| {
            let mut fields = line.split(',');
            let label = fields
                .next()
                .expect("a label")
                .trim()
                .parse()
                .expect("a class");
            let pixels: Vec<f32> = fields
                .map(|p| p.parse::<f32>().expect("a pixel") / 16.0)
                .collect();
            (label, pixels)
        })
        .filter(|(label, pixels)| {
            let x = Array2::from_shape_vec((1, 64), pixels.clone()).expect("64 pixels");
            host.class(x.view()).expect("a class")[0] != *label
        })
        .take(TUNE_BATCH)
        .collect();
    assert_eq!(wrong.len(), TUNE_BATCH, "the model errs on 31 of the 360");
    let mut pixels = [[0.0; 64]; TUNE_BATCH];
    let mut labels = [0; TUNE_BATCH];
    for (i, (label, row)) in wrong.into_iter().enumerate() {
        pixels[i].copy_from_slice(&row);
        labels[i] = label;
    }
    (pixels, labels)
}

graph! {
    /// The same step on the std path: ndarray kernels, weights read at run
    /// time, `w1` and `b1` left alone by naming the trained variables.
    struct HostTune {
        input x: [n, 64];
        input labels: [n] as usize;
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        let logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
        output class = argmax(logits);
        let loss = mean(softmax_cross_entropy(logits, labels));
        step tune = minimize(loss, sgd(lr = 0.05), vars = [w2, b2]);
    }
}

fn host_model() -> HostTune {
    HostTune::from_safetensors(repo(
        "tests/reference/fixtures/sklearn/digits_mlp.safetensors",
    ))
    .expect("the committed weights load")
}

#[test]
fn the_loss_falls_and_tracks_the_std_path() {
    let (pixels, labels) = samples();
    let mut device = FineTune::new();
    let mut workspace = FineTuneWorkspace::new();
    let mut host = host_model();
    let x = Array2::from_shape_fn((TUNE_BATCH, 64), |(i, j)| pixels[i][j]);
    let y = Array1::from(labels.to_vec());
    let mut losses = Vec::new();
    for _ in 0..30 {
        let on_device = fine_tune(&mut device, &mut workspace, &pixels, &labels);
        let on_host = host.tune(x.view(), y.view()).unwrap();
        assert!(
            (on_device - on_host).abs() <= 1e-5 * on_host.abs().max(1.0),
            "step {}: {on_device} on the device, {on_host} on the host",
            losses.len()
        );
        losses.push(on_device);
    }
    assert!(
        losses[29] < 0.5 * losses[0],
        "30 steps should at least halve the loss: {losses:?}"
    );
    // The four images it got wrong are now classified right.
    assert_eq!(device.class(&pixels), labels);
    for (a, b) in device.w2().as_flattened().iter().zip(host.w2().iter()) {
        assert!(
            (a - b).abs() <= 1e-5,
            "w2: {a} on the device, {b} on the host"
        );
    }
    for (a, b) in device.b2().iter().zip(host.b2().iter()) {
        assert!(
            (a - b).abs() <= 1e-5,
            "b2: {a} on the device, {b} on the host"
        );
    }
    // The frozen layer was not trained: the host's is still the file's.
    assert_eq!(host.w1(), host_model().w1());
}

/// One step by hand in `f64`: `h = relu(x·w1 + b1)`, `p = softmax(h·w2 +
/// b2)`, then `w2 −= 0.05·hᵀ(p − onehot)/4` and `b2 −= 0.05·Σ(p − onehot)/4`.
#[test]
fn one_step_is_the_step_computed_by_hand() {
    let (pixels, labels) = samples();
    let host = host_model();
    let (w1, b1, w2, b2) = (host.w1(), host.b1(), host.w2(), host.b2());
    let mut stepped_weights: Vec<f64> = w2.iter().map(|&v| f64::from(v)).collect();
    let mut stepped_bias: Vec<f64> = b2.iter().map(|&v| f64::from(v)).collect();
    let mut loss = 0.0;
    for (row, &label) in pixels.iter().zip(&labels) {
        let h: Vec<f64> = (0..32)
            .map(|j| {
                let z: f64 = (0..64)
                    .map(|k| f64::from(row[k]) * f64::from(w1[[k, j]]))
                    .sum::<f64>()
                    + f64::from(b1[j]);
                z.max(0.0)
            })
            .collect();
        let logits: Vec<f64> = (0..10)
            .map(|c| (0..32).map(|j| h[j] * f64::from(w2[[j, c]])).sum::<f64>() + f64::from(b2[c]))
            .collect();
        let top = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let total: f64 = logits.iter().map(|l| (l - top).exp()).sum();
        loss += (top + total.ln() - logits[label]) / 4.0;
        for c in 0..10 {
            let delta = (logits[c] - top).exp() / total - f64::from(u8::from(c == label));
            stepped_bias[c] -= 0.05 * delta / 4.0;
            for j in 0..32 {
                stepped_weights[j * 10 + c] -= 0.05 * h[j] * delta / 4.0;
            }
        }
    }
    let mut device = FineTune::new();
    let reported = device.tune(&pixels, &labels);
    assert!(
        (f64::from(reported) - loss).abs() <= 1e-5 * loss.max(1.0),
        "{reported} vs {loss}"
    );
    for (a, b) in device.w2().as_flattened().iter().zip(&stepped_weights) {
        assert!((f64::from(*a) - b).abs() <= 1e-5, "w2: {a} vs {b}");
    }
    for (a, b) in device.b2().iter().zip(&stepped_bias) {
        assert!((f64::from(*a) - b).abs() <= 1e-5, "b2: {a} vs {b}");
    }
}

graph! {
    /// Inference alone on a fine-tuning batch: the same forward pass to the
    /// classes, for comparing workspaces.
    #[no_std]
    #[weights("../../tests/reference/fixtures/sklearn/digits_mlp.safetensors")]
    struct Forward {
        input x: [4, 64];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        let logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
        output class = argmax(logits, axis = 1);
    }
}

#[test]
fn the_step_needs_little_workspace_beyond_inference() {
    // Inference on 4 images keeps the hidden layer (4 × 32 floats) and the
    // logits (4 × 10). The step adds the gradient of the loss with respect
    // to the logits (4 × 10) and of b2 (10): w2's gradient is accumulated
    // into w2 as it is made (`optimize::fuse_updates`), never stored.
    assert_eq!(Forward::WORKSPACE_BYTES, (4 * 32 + 4 * 10) * 4);
    assert_eq!(FineTune::WORKSPACE_BYTES, (4 * 32 + 2 * 4 * 10 + 10) * 4);
    const { assert!(FineTune::WORKSPACE_BYTES - Forward::WORKSPACE_BYTES <= 256) };
}

#[test]
fn the_trained_state_is_the_output_layer_alone() {
    // w2 (32 × 10) and b2 (10) in RAM, 1,320 bytes; w1 and b1 are statics.
    assert_eq!(std::mem::size_of::<FineTune>(), (32 * 10 + 10) * 4);
    assert!(std::mem::size_of::<FineTune>() <= 1400);
    assert_eq!(
        FineTune::WORKSPACE_BYTES,
        std::mem::size_of::<FineTuneWorkspace>()
    );
}
