// A permutation names every axis once.
staticflow::graph! {
    struct Swap {
        input x: [n, 3, 4];
        output y = permute(x, [1, 0]);
    }
}

fn main() {}
