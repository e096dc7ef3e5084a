// `vars` lists variables: an input is fed at each call, not trained.
staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        var w: [3];
        output loss = mean(square(matmul(x, w) - y));
        step train = minimize(loss, sgd(lr = 0.1), vars = [w, y]);
    }
}

fn main() {}
