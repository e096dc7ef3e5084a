// The file's `w1` is [64, 32], not [64, 16]: the error shows both shapes.
// (trybuild compiles this case as the crate `<target>/tests/trybuild/staticflow-ui`,
// wherever cargo's target directory is, and the harness, `harness/ui.rs`, first
// copies the fixture to `<target>/tmp/ui/`, which the path reaches from there.)
staticflow::graph! {
    #[weights("../../../tmp/ui/digits_mlp.safetensors")]
    struct Mlp {
        input x: [n, 64];
        var w1: [64, 16];
        output y = matmul(x, w1);
    }
}

fn main() {}
