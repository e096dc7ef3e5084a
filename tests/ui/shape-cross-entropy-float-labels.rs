// Class indices declared without `as usize` are `f32`: the error says so and
// how to declare them.
staticflow::graph! {
    struct Loss {
        input logits: [n, 10];
        input labels: [n];
        output y = softmax_cross_entropy(logits, labels);
    }
}

fn main() {}
