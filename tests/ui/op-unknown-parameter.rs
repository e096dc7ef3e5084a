// A misspelled attribute name: the error points at `axes` and lists the parameters.
staticflow::graph! {
    struct Total {
        input x: [2, 3];
        output y = sum(x, axes = 1);
    }
}

fn main() {}
