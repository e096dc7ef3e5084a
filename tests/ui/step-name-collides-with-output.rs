// A step and an output would both generate the method `loss`.
staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        var w: [3];
        output loss = mean(square(matmul(x, w) - y));
        step loss = minimize(loss, sgd(lr = 0.1));
    }
}

fn main() {}
