// The operand with no gradient has no name: the message calls it the result
// of its op, quoted once.
staticflow::graph! {
    struct Step {
        input x: [n, 3];
        var w: [3, 1];
        output loss = sum(select(gt(matmul(x, w), 0.0), x, x));
        output g = grad(loss, w);
    }
}

fn main() {}
