// A constant whose literal disagrees with its annotation is reported at its
// declaration, and its use (above it) reports nothing more.
staticflow::graph! {
    struct Offset {
        input x: [3];
        output y = x + m;
        const m: [3] = [1.0, 2.0];
    }
}

fn main() {}
