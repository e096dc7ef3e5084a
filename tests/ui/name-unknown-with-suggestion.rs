// A misspelled name: the error points at `wieght` and suggests `weight`.
staticflow::graph! {
    struct Dense {
        input x: [n, 3];
        var weight: [3, 2];
        output y = matmul(x, wieght);
    }
}

fn main() {}
