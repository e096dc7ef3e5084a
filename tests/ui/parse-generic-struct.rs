// A graph is not generic: the error points at the generics.
staticflow::graph! {
    struct Model<T> {
        input x: [n, 3];
        output y = relu(x);
    }
}

fn main() {}
