// The filter expects 3 input channels; the images have 1.
staticflow::graph! {
    struct Features {
        input images: [n, 8, 8, 1];
        var filter: [3, 3, 3, 16];
        output y = conv2d(images, filter);
    }
}

fn main() {}
