// `sum` without an axis leaves a scalar, which has no axis for `argmax`.
staticflow::graph! {
    struct Scalar {
        input x: [n, 3];
        output y = argmax(sum(x));
    }
}

fn main() {}
