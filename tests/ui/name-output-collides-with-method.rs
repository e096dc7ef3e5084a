// Outputs become methods: one named `run` would clash with the generated `run`.
staticflow::graph! {
    struct Clash {
        input x: [3];
        output run = x * 2.0;
    }
}

fn main() {}
