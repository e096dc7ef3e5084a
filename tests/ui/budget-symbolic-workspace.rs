// A workspace whose size depends on the batch `n` has no fixed size to
// hold to a budget.
staticflow::graph! {
    #[budget(workspace = "16 KiB")]
    struct Batch {
        input x: [n, 64];
        var w: [64, 32];
        output h = relu(matmul(x, w));
        output total = sum(h);
    }
}

fn main() {}
