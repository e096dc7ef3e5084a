// Inputs are fed at each run and cannot be assigned: the error points at `x`.
staticflow::graph! {
    struct Scale {
        input x: [3];
        x = x * 2.0;
        output y = x;
    }
}

fn main() {}
