// argmax along a symbolic axis could meet an empty axis at run time, which
// has no index to return: the axis must have a literal, non-zero size.
staticflow::graph! {
    struct Best {
        input x: [n, 10];
        output y = argmax(x, axis = 0);
    }
}

fn main() {}
