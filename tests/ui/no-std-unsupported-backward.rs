// A step of a `#[no_std]` graph derives its backward pass at compile time;
// an op that the step runs in a training form without a slice kernel yet
// (`dropout`, which drops activations only while training) is reported at
// the call.
staticflow::graph! {
    #[no_std]
    struct Noisy {
        input x: [4, 8];
        input target: [4, 2];
        var w: [8, 2];
        output y = matmul(dropout(x, rate = 0.5, seed = 7), w);
        let loss = mse(y, target);
        step fit = minimize(loss, sgd(lr = 0.1));
    }
}

fn main() {}
