//! The seed design's first example, written with `graph!`: with a = 7 and
//! b = 8, `res = (a · b) / (a + b)`. The graph is sorted and checked when this
//! file compiles; running it is one straight-line function call.

use staticflow::graph;

graph! {
    /// The seed graph: two constants and three operations.
    struct Seed {
        const a = 7.0;
        const b = 8.0;
        output res = (a * b) / (a + b);
    }
}

fn main() {
    let seed = Seed::new();
    let res = seed.res().expect("a graph without inputs cannot fail");
    println!("{res}");
}
