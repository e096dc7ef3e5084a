// `a` and `b` depend on each other: the error lists the cycle and points at
// the reference that closes it.
staticflow::graph! {
    struct Loop {
        input x: [3];
        let a = b + x;
        let b = a * 2.0;
        output y = a;
    }
}

fn main() {}
