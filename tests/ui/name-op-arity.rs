// `matmul` takes two operands: the error points at the extra one and shows the signature.
staticflow::graph! {
    struct Dense {
        input x: [n, 3];
        var w: [3, 2];
        output y = matmul(x, w, w);
    }
}

fn main() {}
