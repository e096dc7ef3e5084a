// Index labels are [n], one class per example, not [n, 10].
staticflow::graph! {
    struct Loss {
        input logits: [n, 10];
        input labels: [n, 10] as usize;
        output y = softmax_cross_entropy(logits, labels);
    }
}

fn main() {}
