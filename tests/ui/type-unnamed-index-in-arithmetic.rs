// An unnamed operand of the wrong type is named by the op that made it,
// quoted once: "the result of `argmax`".
staticflow::graph! {
    struct Classes {
        input x: [n, 10];
        output y = argmax(x) * 2.0;
    }
}

fn main() {}
