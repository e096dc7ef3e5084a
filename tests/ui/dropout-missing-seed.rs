// Dropout's mask is reproducible, so the seed is written where it is used.
staticflow::graph! {
    struct Regularized {
        input x: [n, 8];
        var w: [8, 2];
        output y = matmul(dropout(x, rate = 0.5), w);
    }
}

fn main() {}
