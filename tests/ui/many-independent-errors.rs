// Independent mistakes are all reported in one compile, as rustc does: an
// unknown name, a shape mismatch and a bad annotation in three declarations.
staticflow::graph! {
    struct Broken {
        input x: [n, 3];
        var w: [4, 2];
        let a = x + undefined;
        let b = matmul(x, w);
        let c: [n] = x * 2.0;
        output y = x;
    }
}

fn main() {}
