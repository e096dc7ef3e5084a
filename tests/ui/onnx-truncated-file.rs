// The first 1,000 bytes of a model: a decode error, not a panic.
staticflow::graph! {
    #[onnx("../../../tmp/ui/truncated.onnx")]
    struct Model;
}

fn main() {}
