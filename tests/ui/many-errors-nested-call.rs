// A wrong argument of the outer call does not hide the inner call's: both
// are reported, in source order.
staticflow::graph! {
    struct Nested {
        input x: [n, 3];
        output y = softmax(sum(x, axes = [1]), dim = 0);
    }
}

fn main() {}
