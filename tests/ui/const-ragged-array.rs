// Array literals must be rectangular: the error points at the short row.
staticflow::graph! {
    struct Scale {
        input x: [2, 2];
        const k = [[1.0, 2.0], [3.0]];
        output y = x * k;
    }
}

fn main() {}
