// Python's `x ** 2.0` reads in Rust as `x * (*2.0)`: the error at the second
// `*` names `pow` and `square`; `!=` in the same expression names `eq`.
staticflow::graph! {
    struct Power {
        input x: [3];
        output y = select(x != 0.0, x ** 2.0, x);
    }
}

fn main() {}
