// A name declared twice: the error points at the second `h`.
staticflow::graph! {
    struct Twice {
        input x: [3];
        let h = x * 2.0;
        let h = x + 1.0;
        output y = h;
    }
}

fn main() {}
