// `grad` differentiates a scalar: a per-example loss must be reduced first.
staticflow::graph! {
    struct Regression {
        input x: [n, 3];
        input y: [n];
        var w: [3];
        let losses = (matmul(x, w) - y) * (matmul(x, w) - y);
        output g = grad(losses, w);
    }
}

fn main() {}
