// Comparisons are named ops: `>` suggests `gt(..)` with the operands as
// written, and `<=` in the same expression suggests `le(..)`.
staticflow::graph! {
    struct LeakyRelu {
        input x: [3];
        output y = select(x > 0.0, x, x * 0.1) + select(x <= -1.0, x, x);
    }
}

fn main() {}
