// The second layer expects 128 features but the first makes 64: the error
// underlines the call and keeps the symbolic batch dim `n`.
staticflow::graph! {
    struct Mlp {
        input x: [n, 784];
        var w1: [784, 64];
        var w2: [128, 10];
        let h = matmul(x, w1);
        output y = matmul(h, w2);
    }
}

fn main() {}
