// `%` is not an op of the graph language: the error points at `%`, and the
// other unsupported construct in the same expression is reported too.
staticflow::graph! {
    struct Modulo {
        input x: [3];
        output y = x % 2.0 + if true { x } else { x };
    }
}

fn main() {}
