// A variable listed twice in `vars` would get two updates (and, with
// momentum or Adam, two states of one name).
staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        var w: [3];
        output loss = mean(square(matmul(x, w) - y));
        step train = minimize(loss, sgd(lr = 0.1), vars = [w, w]);
    }
}

fn main() {}
