// `gelu` comes in two named forms: the error suggests both.
staticflow::graph! {
    struct Activation {
        input x: [3];
        output y = gelu(x);
    }
}

fn main() {}
