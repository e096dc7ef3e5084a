// `h` is computed from `x` and `w`: its gradient is not a quantity of the
// model; take the gradient with respect to what it is computed from.
staticflow::graph! {
    struct Layer {
        input x: [n, 3];
        var w: [3, 2];
        let h = matmul(x, w);
        output loss = mean(h);
        output g = grad(loss, h);
    }
}

fn main() {}
