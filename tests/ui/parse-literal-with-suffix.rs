// Graph literals are f32: an integer suffix is an error on the literal.
staticflow::graph! {
    struct Scale {
        input x: [3];
        output y = x * 2u8;
    }
}

fn main() {}
