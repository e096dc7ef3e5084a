// numpy's `@`: each one is reported, with the `matmul` call to write.
staticflow::graph! {
    struct Mlp {
        input x: [n, 4];
        var w1: [4, 8];
        var w2: [8, 2];
        let h = relu(x @ w1);
        output y = h @ w2;
    }
}

fn main() {}
