// An op without a slice kernel yet is reported where it is written: in the
// graph as written (`gather`), and, once that compiles, in the backward pass
// a step derives (the training form of `dropout`; see
// `no-std-unsupported-backward.rs`).
staticflow::graph! {
    #[no_std]
    struct Lookup {
        input ids: [4] as usize;
        input target: [4, 2];
        var table: [10, 8];
        var w: [8, 2];
        output y = matmul(gather(table, ids), w);
        let loss = mse(y, target);
        step fit = minimize(loss, sgd(lr = 0.1));
    }
}

fn main() {}
