// A `#[no_std]` graph takes fixed-size arrays, so its shapes are literal.
staticflow::graph! {
    #[no_std]
    struct Batch {
        input x: [n, 3];
        var w: [3, 2];
        output y = matmul(x, w);
    }
}

fn main() {}
