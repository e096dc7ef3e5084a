// Spatial dims must be literal so output sizes are known at compile time.
staticflow::graph! {
    struct Features {
        input images: [n, h, w, 1];
        var filter: [3, 3, 1, 8];
        output y = conv2d(images, filter);
    }
}

fn main() {}
