// The loss depends on inputs only: the step would train nothing.
staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        var w: [3];
        output prediction = matmul(x, w);
        output spread = mean(square(y - mean(y)));
        step train = minimize(spread, sgd(lr = 0.1));
    }
}

fn main() {}
