// In a step, batch_norm takes the batch's statistics over every axis but the
// last: a vector has no batch axis to take them over.
staticflow::graph! {
    struct Normalized {
        input x: [4];
        input t: [4];
        var moving_mean: [4];
        var moving_variance: [4];
        var scale: [4];
        var offset: [4];
        output loss = mse(batch_norm(x, moving_mean, moving_variance, scale, offset), t);
        step fit = minimize(loss, sgd(lr = 0.1));
    }
}

fn main() {}
