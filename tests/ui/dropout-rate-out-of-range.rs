// A dropout rate is a probability below 1 (a rate of 1 would drop every
// element and scale by 1/0): the error points at the literal.
staticflow::graph! {
    struct Regularized {
        input x: [n, 8];
        var w: [8, 2];
        let h = dropout(x, rate = 1.0, seed = 17);
        output y = matmul(h, w);
    }
}

fn main() {}
