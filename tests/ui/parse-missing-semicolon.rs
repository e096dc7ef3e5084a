// Every declaration ends with `;`; syn's own parse errors get the syntax
// code too.
staticflow::graph! {
    struct Line {
        input x: [n, 3]
        output y = x;
    }
}

fn main() {}
