// A string where a value goes: the graph has none.
staticflow::graph! {
    struct Strings {
        input x: [3];
        output y = relu(x) + "1.0";
    }
}

fn main() {}
