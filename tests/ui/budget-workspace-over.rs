// A workspace budget smaller than the planned workspace: the error at the
// budget states the need (the `WORKSPACE_BYTES` of the same graph without
// the budget, checked in tests/budget.rs), the budget and the largest slots.
staticflow::graph! {
    #[budget(workspace = "1 KiB")]
    struct Wide {
        input x: [8, 64];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        output hidden = relu(matmul(x, w1) + b1);
        output logits = matmul(hidden, w2);
        output class = argmax(logits, axis = 1);
    }
}

fn main() {
    // The graph's items exist: the budget is the only error.
    let _bytes = Wide::WORKSPACE_BYTES;
}
