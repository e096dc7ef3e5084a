// `momentum` is SGD's; Adam's parameters are listed instead.
staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        var w: [3];
        output loss = mean(square(matmul(x, w) - y));
        step train = minimize(loss, adam(lr = 0.01, momentum = 0.9));
    }
}

fn main() {}
