// A model with two nodes the importer does not map (a grouped convolution
// and `NonZero`): both are reported at once, each naming the operator, the
// node and the opset, at the attribute.
staticflow::graph! {
    #[onnx("../../../tmp/ui/unsupported.onnx")]
    struct Model;
}

fn main() {}
