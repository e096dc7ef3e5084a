// A `#[no_std]` graph trains with steps, but a step there returns only its
// loss: asking for outputs too is an error at the step, not dropped.
staticflow::graph! {
    #[no_std]
    struct Fit {
        input x: [4, 3];
        input y: [4];
        var w: [3];
        output prediction = matmul(x, w);
        let loss = mean(square(prediction - y));
        step train = minimize(loss, sgd(lr = 0.1), outputs = [prediction]);
    }
}

fn main() {}
