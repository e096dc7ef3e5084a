// Axis 1 has 5 elements; 2..9 does not fit.
staticflow::graph! {
    struct Window {
        input x: [n, 5];
        output y = slice(x, axis = 1, start = 2, end = 9);
    }
}

fn main() {}
