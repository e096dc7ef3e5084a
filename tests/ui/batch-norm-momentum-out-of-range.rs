// The running statistics' momentum weighs the old average: a number in [0, 1].
staticflow::graph! {
    struct Normalized {
        input x: [n, 4];
        var mean: [4];
        var variance: [4];
        var scale: [4];
        var offset: [4];
        output y = batch_norm(x, mean, variance, scale, offset, momentum = 1.5);
    }
}

fn main() {}
