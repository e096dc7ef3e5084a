// Two batch_norms of one step's loss would each update the same running
// statistics: a variable takes one new value per step.
staticflow::graph! {
    struct Normalized {
        input x: [n, 4];
        input t: [n, 4];
        var moving_mean: [4];
        var moving_variance: [4];
        var scale: [4];
        var offset: [4];
        let once = batch_norm(x, moving_mean, moving_variance, scale, offset);
        let twice = batch_norm(once * 2.0, moving_mean, moving_variance, scale, offset);
        output loss = mse(twice, t);
        step fit = minimize(loss, sgd(lr = 0.1));
    }
}

fn main() {}
