// A `#[no_std]` graph has no training steps yet: like a variable update, a
// step must be an error, not dropped without a word.
staticflow::graph! {
    #[no_std]
    struct Fit {
        input x: [4, 3];
        input y: [4];
        var w: [3];
        output loss = mean(square(matmul(x, w) - y));
        step train = minimize(loss, sgd(lr = 0.1));
    }
}

fn main() {}
