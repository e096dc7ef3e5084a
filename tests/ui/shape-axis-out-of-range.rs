// A rank-2 tensor has axes -2 to 1: the error points at the call.
staticflow::graph! {
    struct Probabilities {
        input x: [n, 10];
        output y = softmax(x, axis = 2);
    }
}

fn main() {}
