// Predictions and targets must have one shape.
staticflow::graph! {
    struct Loss {
        input prediction: [n, 1];
        input target: [n];
        output y = mse(prediction, target);
    }
}

fn main() {}
