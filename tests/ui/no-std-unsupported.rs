// Ops without a slice kernel yet, and variable updates, are reported
// together, each where it is written.
staticflow::graph! {
    #[no_std]
    struct Train {
        input x: [4, 3];
        input target: [4, 2];
        var w: [3, 2];
        let y = matmul(x, w);
        output loss = mse(y, target);
        w = w - 0.1 * matmul(transpose(x), y - target);
    }
}

fn main() {}
