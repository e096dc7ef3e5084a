// The weights baked in from the file take more than their budget: the
// error states their bytes and the three largest variables.
staticflow::graph! {
    #[no_std]
    // (The harness stages the fixture under `<target>/tmp/ui/`: see
    // `harness/ui.rs`.)
    #[weights("../../../tmp/ui/digits_mlp.safetensors")]
    #[budget(weights = "8 KiB")]
    struct Digits {
        input x: [64];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        output logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
    }
}

fn main() {}
