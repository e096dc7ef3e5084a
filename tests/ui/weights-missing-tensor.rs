// The file has no tensor for variable `w3`: the error points at `w3`.
// (trybuild compiles this case as the crate `<target>/tests/trybuild/staticflow-ui`,
// wherever cargo's target directory is, and the harness, `harness/ui.rs`, first
// copies the fixture to `<target>/tmp/ui/`, which the path reaches from there.)
staticflow::graph! {
    #[weights("../../../tmp/ui/digits_mlp.safetensors")]
    struct Mlp {
        input x: [n, 64];
        var w1: [64, 32];
        var w3: [32, 10];
        output y = matmul(matmul(x, w1), w3);
    }
}

fn main() {}
