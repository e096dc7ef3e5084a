// TensorFlow's `padding = "SAME"` and `data_format = "NHWC"`: the first says
// the setting is written bare, the second that images are always NHWC.
staticflow::graph! {
    struct Conv {
        input x: [n, 28, 28, 1];
        var f: [3, 3, 1, 8];
        output y = conv2d(x, f, padding = "SAME", data_format = "NHWC");
    }
}

fn main() {}
