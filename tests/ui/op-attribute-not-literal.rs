// Attributes are literals known at compile time: an axis cannot be a tensor.
staticflow::graph! {
    struct Probabilities {
        input x: [2, 3];
        const one = 1.0;
        output y = softmax(x, axis = one);
    }
}

fn main() {}
