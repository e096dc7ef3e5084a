// A declaration takes doc comments only: `#[cfg]` cannot compile a node out
// of the graph, and other attributes would be silently lost.
staticflow::graph! {
    struct Tagged {
        /// Documented: fine.
        input x: [n, 2];
        #[cfg(feature = "wide")]
        input y: [n, 2];
        #[inline]
        output z = x * 2.0;
    }
}

fn main() {}
