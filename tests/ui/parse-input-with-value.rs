// Inputs are fed at run time, so they cannot be given a value: the error points at `=`.
staticflow::graph! {
    struct Scale {
        input x: [3] = [1.0, 2.0, 3.0];
        output y = x * 2.0;
    }
}

fn main() {}
