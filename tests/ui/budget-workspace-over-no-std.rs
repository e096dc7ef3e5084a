// A `#[no_std]` graph's workspace is a struct of fixed-size arrays: its
// budget counts the bytes `WORKSPACE_BYTES` holds (checked in
// tests/budget.rs).
staticflow::graph! {
    #[no_std]
    // (The harness stages the fixture under `<target>/tmp/ui/`: see
    // `harness/ui.rs`.)
    #[weights("../../../tmp/ui/digits_mlp.safetensors")]
    #[budget(workspace = 64)]
    struct Digits {
        input x: [4, 64];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        let hidden = relu(matmul(x, w1) + b1);
        output logits = matmul(hidden, w2) + b2;
        output class = argmax(logits, axis = 1);
    }
}

// A `bool` slot beside an `f32` one: the workspace struct is padded to the
// `f32` alignment, and the budget counts the padding as `WORKSPACE_BYTES`
// does.
staticflow::graph! {
    #[no_std]
    #[budget(workspace = 15)]
    struct Masked {
        input x: [3];
        let positive = gt(x, 0.0);
        let flipped = 0.0 - x;
        output y = select(positive, x, flipped) * 2.0;
    }
}

fn main() {}
