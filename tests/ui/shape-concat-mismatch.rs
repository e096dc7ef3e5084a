// Concatenating along axis 1 needs equal dims on axis 0.
staticflow::graph! {
    struct Join {
        input a: [2, 3];
        input b: [3, 3];
        output y = concat([a, b], axis = 1);
    }
}

fn main() {}
