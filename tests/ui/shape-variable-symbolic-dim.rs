// Variables live in the struct and need literal shapes: the error points at `w`.
staticflow::graph! {
    struct Layer {
        input x: [n, 3];
        var w: [3, k];
        output y = matmul(x, w);
    }
}

fn main() {}
