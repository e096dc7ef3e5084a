// The annotation says [n, 128] but the product is [n, 64]: the error points at the annotation.
staticflow::graph! {
    struct Layer {
        input x: [n, 784];
        var w: [784, 64];
        let h: [n, 128] = matmul(x, w);
        output y = h;
    }
}

fn main() {}
