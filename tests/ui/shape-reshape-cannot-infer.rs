// The `-1` would have to be 2·n, which is not one dim.
staticflow::graph! {
    struct Flatten {
        input x: [n, 8, 8];
        output y = reshape(x, [32, -1]);
    }
}

fn main() {}
