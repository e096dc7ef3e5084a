// The model file does not exist: the error points at the path.
staticflow::graph! {
    #[onnx("models/no-such-model.onnx")]
    struct Model;
}

fn main() {}
