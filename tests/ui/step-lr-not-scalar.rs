// A learning rate is one number per step, not one per weight.
staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        input rates: [3];
        var w: [3];
        output loss = mean(square(matmul(x, w) - y));
        step train = minimize(loss, sgd(lr = rates));
    }
}

fn main() {}
