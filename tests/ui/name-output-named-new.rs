// An output named `new` clashes with the constructor: one error, and the
// fallback declares `new` once, so rustc adds no duplicate definition.
staticflow::graph! {
    struct Clash {
        input x: [3];
        output new = x * 2.0;
    }
}

fn main() {
    let _clash = Clash::new();
}
