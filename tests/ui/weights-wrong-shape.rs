// The file's `w1` is [64, 32], not [64, 16]: the error shows both shapes.
// (trybuild compiles this case as the crate `target/tests/trybuild/staticflow`,
// so the path relative to its manifest climbs back to the repository.)
staticflow::graph! {
    #[weights("../../../../tests/reference/fixtures/sklearn/digits_mlp.safetensors")]
    struct Mlp {
        input x: [n, 64];
        var w1: [64, 16];
        output y = matmul(x, w1);
    }
}

fn main() {}
