// A graph that computes nothing is a mistake: the error points at the graph's name.
staticflow::graph! {
    struct Nothing {
        input x: [3];
        let y = x * 2.0;
    }
}

fn main() {}
