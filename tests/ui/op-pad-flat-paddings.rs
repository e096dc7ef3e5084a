// `paddings` is a list of pairs, not the flat list ONNX's `pads` is.
staticflow::graph! {
    struct Padded {
        input x: [n, 8];
        output y = pad(x, [0, 0, 1, 1]);
    }
}

fn main() {}
