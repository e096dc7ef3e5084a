// A learning rate is an `f32`: a `usize` input is a type error, not an
// internal error.
staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        input rate: [] as usize;
        var w: [3];
        output loss = mean(square(matmul(x, w) - y));
        step train = minimize(loss, sgd(lr = rate));
    }
}

fn main() {}
