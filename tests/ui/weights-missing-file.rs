// The weight file does not exist: the error points at the path.
staticflow::graph! {
    #[weights("tests/data/no-such-file.safetensors")]
    struct Mlp {
        input x: [n, 64];
        var w1: [64, 32];
        output y = matmul(x, w1);
    }
}

fn main() {}
