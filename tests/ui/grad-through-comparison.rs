// The loss depends on `w` only through a comparison, whose `bool` result
// has no gradient: `grad` says so instead of returning zeros.
staticflow::graph! {
    struct Step {
        input x: [n, 3];
        var w: [3];
        let positive = gt(matmul(x, w), 0.0);
        output loss = mean(select(positive, 1.0, 0.0));
        output g = grad(loss, w);
    }
}

fn main() {}
