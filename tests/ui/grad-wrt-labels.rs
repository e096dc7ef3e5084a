// Class indices are `usize`: nothing to differentiate.
staticflow::graph! {
    struct Classifier {
        input x: [n, 4];
        input labels: [n] as usize;
        var w: [4, 3];
        output loss = mean(softmax_cross_entropy(matmul(x, w), labels));
        output g = grad(loss, labels);
    }
}

fn main() {}
