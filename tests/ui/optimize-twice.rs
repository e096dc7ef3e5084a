// One `#[optimize(..)]` per graph: two could only contradict each other.
staticflow::graph! {
    #[optimize(off)]
    #[optimize(on)]
    struct Scale {
        input x: [3];
        output y = x * 2.0 + 1.0;
    }
}

fn main() {}
