// An input axis with neither a size nor a name: the graph needs one.
staticflow::graph! {
    #[onnx("../../../tmp/ui/unnamed_dim.onnx")]
    struct Model;
}

fn main() {}
