// Every optimizer needs a learning rate.
staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        var w: [3];
        output loss = mean(square(matmul(x, w) - y));
        step train = minimize(loss, adam(beta1 = 0.8));
    }
}

fn main() {}
