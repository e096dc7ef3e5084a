// The batch axis `n` is symbolic: padding it would make `n + 2`, which is
// not a dim. The error underlines `paddings`.
staticflow::graph! {
    struct Padded {
        input x: [n, 8, 8, 3];
        output y = pad(x, [[1, 1], [1, 1], [1, 1], [0, 0]]);
    }
}

fn main() {}
