// A 5x5 window does not fit 4x4 images without padding.
staticflow::graph! {
    struct Features {
        input images: [n, 4, 4, 1];
        var filter: [5, 5, 1, 8];
        output y = conv2d(images, filter, padding = valid);
    }
}

fn main() {}
