// Graphs within their budgets compile, and the budget bounds
// `WORKSPACE_BYTES`.
staticflow::graph! {
    #[budget(workspace = "2 KiB")]
    struct Wide {
        input x: [8, 64];
        var w1: [64, 32];
        var b1: [32];
        output hidden = relu(matmul(x, w1) + b1);
        output total = sum(hidden);
    }
}

staticflow::graph! {
    #[no_std]
    // (The harness stages the fixture under `<target>/tmp/ui/`: see
    // `harness/ui.rs`.)
    #[weights("../../../tmp/ui/digits_mlp.safetensors")]
    #[budget(workspace = "1 KiB", weights = "10 kB")]
    struct Digits {
        input x: [64];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        output logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
        output class = argmax(logits);
    }
}

const _: () = assert!(Wide::WORKSPACE_BYTES <= 2048);
const _: () = assert!(Digits::WORKSPACE_BYTES <= 1024);

fn main() {
    assert!(Wide::WORKSPACE_BYTES > 0);
    let digits = Digits::new();
    let mut workspace = DigitsWorkspace::new();
    let class = digits.class_with(&mut workspace, &[0.0; 64]);
    assert!(class < 10);
}
