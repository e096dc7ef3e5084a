// [n, 8, 8] has 64·n elements; [n, 32] has 32·n: the error shows both counts.
staticflow::graph! {
    struct Flatten {
        input x: [n, 8, 8];
        output y = reshape(x, [n, 32]);
    }
}

fn main() {}
