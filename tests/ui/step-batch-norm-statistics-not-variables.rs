// In a step, batch_norm updates the running statistics it is given, so
// they must be variables: here the mean is an input and the variance a
// literal. Outputs alone (no step) may use any values.
staticflow::graph! {
    struct Normalized {
        input x: [n, 4];
        input mu: [4];
        input t: [n, 4];
        var scale: [4];
        var offset: [4];
        output loss = mse(batch_norm(x, mu, [1.0, 1.0, 1.0, 1.0], scale, offset), t);
        step fit = minimize(loss, sgd(lr = 0.1));
    }
}

fn main() {}
