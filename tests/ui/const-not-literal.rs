// A constant's value is a literal; computed values use `let`.
staticflow::graph! {
    struct Scale {
        input x: [3];
        const k = x * 2.0;
        output y = x * k;
    }
}

fn main() {}
