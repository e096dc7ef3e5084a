//! Training steps in little memory: the workspace a full SGD step plans is
//! at most inference's (on the same batch) plus the largest single gradient
//! plus the activations the backward pass must keep, because each update is
//! applied in its variable as soon as its gradient is final (the memory
//! order), relu's gradient reads relu's output so the pre-activations are
//! never stored, and the transposed activations and weights a product
//! reads are views.

use staticflow::graph;

const F32: usize = 4;

graph! {
    struct Mlp1Step {
        input x: [64, 784];
        input labels: [64] as usize;
        var w1: [784, 128];
        var b1: [128];
        var w2: [128, 10];
        var b2: [10];
        output logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
        let loss = mean(softmax_cross_entropy(logits, labels));
        step fit = minimize(loss, sgd(lr = 0.1));
    }
}

graph! {
    struct Mlp1Inference {
        input x: [64, 784];
        var w1: [784, 128];
        var b1: [128];
        var w2: [128, 10];
        var b2: [10];
        output logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
    }
}

graph! {
    struct Mlp2Step {
        input x: [256, 64];
        input labels: [256] as usize;
        var w1: [64, 256];
        var b1: [256];
        var w2: [256, 256];
        var b2: [256];
        var w3: [256, 10];
        var b3: [10];
        output logits = matmul(relu(matmul(relu(matmul(x, w1) + b1), w2) + b2), w3) + b3;
        let loss = mean(softmax_cross_entropy(logits, labels));
        step fit = minimize(loss, sgd(lr = 0.1));
    }
}

graph! {
    struct Mlp2Inference {
        input x: [256, 64];
        var w1: [64, 256];
        var b1: [256];
        var w2: [256, 256];
        var b2: [256];
        var w3: [256, 10];
        var b3: [10];
        output logits = matmul(relu(matmul(relu(matmul(x, w1) + b1), w2) + b2), w3) + b3;
    }
}

#[test]
fn an_mlp_784_128_10_step_keeps_one_gradient_at_a_time() {
    // The largest gradient is w1's; the backward pass keeps the hidden
    // activations (64 × 128) for w2's gradient and relu's slope.
    let bound = Mlp1Inference::WORKSPACE_BYTES + 784 * 128 * F32 + 64 * 128 * F32;
    assert!(
        Mlp1Step::WORKSPACE_BYTES <= bound,
        "{} > {bound}",
        Mlp1Step::WORKSPACE_BYTES
    );
}

#[test]
fn an_mlp_784_128_10_step_stores_no_weight_gradient() {
    // Each weight takes its update as its gradient's product is made
    // (`optimize::fuse_updates`): beyond inference, the step holds the
    // hidden activations (64 × 128, for w2's gradient and relu's slope) and
    // the hidden layer's gradient (64 × 128), never w1's 784 × 128.
    let bound = Mlp1Inference::WORKSPACE_BYTES + 2 * 64 * 128 * F32;
    assert!(
        Mlp1Step::WORKSPACE_BYTES <= bound,
        "{} > {bound}",
        Mlp1Step::WORKSPACE_BYTES
    );
}

#[test]
fn an_mlp_64_256_256_10_step_keeps_one_gradient_at_a_time() {
    // The largest gradient is w2's (256 × 256); the backward pass keeps
    // both hidden activations (256 × 256 each).
    let bound = Mlp2Inference::WORKSPACE_BYTES + 256 * 256 * F32 + 2 * 256 * 256 * F32;
    assert!(
        Mlp2Step::WORKSPACE_BYTES <= bound,
        "{} > {bound}",
        Mlp2Step::WORKSPACE_BYTES
    );
}

#[test]
fn an_mlp_64_256_256_10_step_reads_transposed_weights_in_place() {
    // Beyond inference's two 256 × 256 slots, at most three 256 × 256
    // values live at once (h1, the gradient at layer 2's pre-activation
    // and h1's gradient), with the batch's logits, probabilities and their
    // gradient (256 × 10 each). `w2ᵀ` in `δ·w2ᵀ` is a view of `w2`: a copy
    // would take 256 × 256 floats more.
    let bound = Mlp2Inference::WORKSPACE_BYTES + 256 * 256 * F32 + 3 * 256 * 10 * F32;
    assert!(
        Mlp2Step::WORKSPACE_BYTES <= bound,
        "{} > {bound}",
        Mlp2Step::WORKSPACE_BYTES
    );
}

#[test]
fn a_step_computes_what_the_same_step_computes_unordered() {
    // The memory order changes where values live, not what they are: one
    // step here equals the step of the `#[optimize(off)]` twin (which keeps
    // every value apart and every update to the end) to rounding.
    graph! {
        #[optimize(off)]
        struct Mlp1Plain {
            input x: [64, 784];
            input labels: [64] as usize;
            var w1: [784, 128];
            var b1: [128];
            var w2: [128, 10];
            var b2: [10];
            output logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
            let loss = mean(softmax_cross_entropy(logits, labels));
            step fit = minimize(loss, sgd(lr = 0.1));
        }
    }
    use staticflow::ndarray::{Array1, Array2};
    let value = |i: usize, scale: f32| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * scale;
    let w1 = Array2::from_shape_fn((784, 128), |(i, j)| value(i * 128 + j, 0.07));
    let w2 = Array2::from_shape_fn((128, 10), |(i, j)| value(i * 10 + j + 3, 0.2));
    let (b1, b2) = (Array1::from_elem(128, 0.01), Array1::from_elem(10, -0.02));
    let x = Array2::from_shape_fn((64, 784), |(i, j)| value(i * 784 + j + 11, 1.0) + 0.5);
    let labels: Array1<usize> = (0..64).map(|i| i % 10).collect();
    let mut ordered = Mlp1Step::new(w1.clone(), b1.clone(), w2.clone(), b2.clone()).unwrap();
    let mut plain = Mlp1Plain::new(w1, b1, w2, b2).unwrap();
    for _ in 0..3 {
        let a = ordered.fit(&x, &labels).unwrap();
        let b = plain.fit(&x, &labels).unwrap();
        assert!((a - b).abs() <= 1e-5 * b.abs(), "{a} vs {b}");
    }
    for (a, b) in ordered.w1().iter().zip(plain.w1().iter()) {
        assert!((a - b).abs() <= 1e-5, "{a} vs {b}");
    }
    for (a, b) in ordered.w2().iter().zip(plain.w2().iter()) {
        assert!((a - b).abs() <= 1e-5, "{a} vs {b}");
    }
}
