// Axis -1 and axis 1 are the same axis of a rank-2 tensor.
staticflow::graph! {
    struct Total {
        input x: [n, 10];
        output y = sum(x, axis = [1, -1]);
    }
}

fn main() {}
