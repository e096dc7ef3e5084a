// `minimize` takes a scalar: a per-example loss must be reduced first.
staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        var w: [3];
        output losses = square(matmul(x, w) - y);
        step train = minimize(losses, sgd(lr = 0.1));
    }
}

fn main() {}
