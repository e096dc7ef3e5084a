// A misspelled op: the error points at `matmull` and suggests `matmul`.
staticflow::graph! {
    struct Dense {
        input x: [n, 3];
        var w: [3, 2];
        output y = matmull(x, w);
    }
}

fn main() {}
