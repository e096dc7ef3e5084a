// `n` and `m` are distinct sizes, so they do not broadcast.
staticflow::graph! {
    struct Sum {
        input x: [n, 3];
        input y: [m, 3];
        output z = x - y;
    }
}

fn main() {}
