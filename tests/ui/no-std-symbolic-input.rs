// A `#[no_std]` graph takes fixed-size arrays, so its shapes are literal.
staticflow::graph! {
    #[no_std]
    struct Batch {
        input x: [n, 3];
        var w: [3, 2];
        output y = matmul(x, w);
    }
}

fn main() {
    // The methods still exist: the error above is the only one.
    let batch = Batch::new([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]);
    let _y = batch.y(&[[1.0, 2.0, 3.0]]);
}
