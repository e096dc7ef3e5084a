// `outputs` names outputs of the graph: `h` is a `let`, `w` a variable.
staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        var w: [3];
        let h = matmul(x, w);
        output loss = mean(square(h - y));
        output weights = w;
        step fit = minimize(loss, sgd(lr = 0.1), outputs = [h, weights]);
    }
}

fn main() {}
