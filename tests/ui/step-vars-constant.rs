// `vars` lists variables: a constant never changes.
staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        var w: [3];
        const scale = 2.0;
        output loss = mean(square(matmul(x, w) * scale - y));
        step train = minimize(loss, sgd(lr = 0.1), vars = [scale]);
    }
}

fn main() {}
