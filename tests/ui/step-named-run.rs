// A step named `run` would clash with the generated `run`.
staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        var w: [3];
        output loss = mean(square(matmul(x, w) - y));
        step run = minimize(loss, sgd(lr = 0.1));
    }
}

fn main() {}
