// Each input, variable, constant and `let` that no output, update or
// training step uses gets a warning at its name. A name starting with `_`,
// an input that only sizes a value, and a graph marked `#[allow(unused)]`
// get none. (The error in `main` makes this a compile-fail case, so that
// the snapshot holds the warnings.)
staticflow::graph! {
    struct Model {
        input x: [n, 3];
        input spare: [n, 3];
        input _kept: [n, 3];
        input sizes: [m, 1];
        var w: [3, 2];
        var idle: [2];
        const unused_scale = 2.0;
        let h = matmul(x, w);
        let dead = exp(h);
        output y = relu(h);
        output grid = broadcast_to(1.0, [m, 2]);
    }
}

staticflow::graph! {
    #[allow(unused)]
    struct Quiet {
        input x: [n, 3];
        input spare: [n, 3];
        output y = x * 2.0;
    }
}

fn main() {
    compile_error!("the error that makes this case fail to compile");
}
