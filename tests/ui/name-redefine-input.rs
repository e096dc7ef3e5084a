// An input cannot be redefined: the error points at the `x` of the `let`.
staticflow::graph! {
    struct Scale {
        input x: [3];
        let x = x * 3.0;
        output y = x;
    }
}

fn main() {}
