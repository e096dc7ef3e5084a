// A std graph bakes `#[weights(..)]` in as constants, so a step cannot
// train them: the error names the variables and the two ways out. (The
// harness stages the fixture under `<target>/tmp/ui/`: see `harness/ui.rs`.)
staticflow::graph! {
    #[weights("../../../tmp/ui/digits_mlp.safetensors")]
    struct Tuned {
        input x: [n, 64];
        input labels: [n] as usize;
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        let logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
        let loss = mean(softmax_cross_entropy(logits, labels));
        step tune = minimize(loss, sgd(lr = 0.05), vars = [w2, b2]);
    }
}

fn main() {}
