// Two graphs of one name in one module: rustc reports the name defined
// twice, and not every generated item it would define twice.
staticflow::graph! {
    struct M {
        input x: [2];
        var w: [2];
        output y = x * w;
        w = w + x;
    }
}

staticflow::graph! {
    struct M {
        input x: [3];
        output y = x * 2.0;
    }
}

fn main() {}
