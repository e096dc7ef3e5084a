// `select` takes a mask from a comparison as its first operand.
staticflow::graph! {
    struct Pick {
        input a: [3];
        input b: [3];
        output y = select(a, a, b);
    }
}

fn main() {}
