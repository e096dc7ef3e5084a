// `#[onnx(..)]` takes the path first, then `weights = ..` and dim sizes.
staticflow::graph! {
    #[onnx("model.onnx", batch = "one")]
    struct Model;
}

fn main() {}
