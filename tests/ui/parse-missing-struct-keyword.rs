// The graph must be written as a struct item: the error points at `Affine`.
staticflow::graph! {
    Affine {
        input x: [3];
        output y = x * 2.0;
    }
}

fn main() {}
