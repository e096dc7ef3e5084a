// `paddings` takes one `[before, after]` pair per axis of `x`: four here.
staticflow::graph! {
    struct Padded {
        input x: [n, 8, 8, 3];
        output y = pad(x, paddings = [[1, 1], [1, 1]], value = -3.4028235e38);
    }
}

fn main() {}
