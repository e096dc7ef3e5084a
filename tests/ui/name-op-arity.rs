// `matmul` takes two operands: the error underlines the whole call.
staticflow::graph! {
    struct Dense {
        input x: [n, 3];
        var w: [3, 2];
        output y = matmul(x, w, w);
    }
}

fn main() {}
