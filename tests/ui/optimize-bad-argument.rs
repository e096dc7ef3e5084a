// `#[optimize(..)]` takes `off` (or `on`, the default): there is no other
// level of optimization.
staticflow::graph! {
    #[optimize(fast)]
    struct Scale {
        input x: [3];
        output y = x * 2.0 + 1.0;
    }
}

fn main() {}
