// A misspelled optimizer: the error points at it and lists the optimizers.
staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        var w: [3];
        output loss = mean(square(matmul(x, w) - y));
        step train = minimize(loss, sgd2(lr = 0.1));
    }
}

fn main() {}
