// Class indices are not numbers to compute with: the error names `labels` and both types.
staticflow::graph! {
    struct Labels {
        input labels: [n] as usize;
        output y = labels * 2.0;
    }
}

fn main() {}
