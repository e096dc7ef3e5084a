// A step's batch_norm already gives its running mean and variance their new
// values (moving averages of the batch's statistics): the optimizer cannot
// train them too.
staticflow::graph! {
    struct Normalized {
        input x: [n, 4];
        input t: [n, 4];
        var moving_mean: [4];
        var moving_variance: [4];
        var scale: [4];
        var offset: [4];
        output loss = mse(batch_norm(x, moving_mean, moving_variance, scale, offset), t);
        step fit = minimize(loss, sgd(lr = 0.1), vars = [scale, offset, moving_mean]);
    }
}

fn main() {}
