// A graph with an error still declares its struct and methods, training
// steps included, so code calling the step reports only the real mistake.
use staticflow::ndarray::{Array1, Array2};

staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        var w: [3];
        output loss = mean(square(matmul(x, w) - yy));
        step train = minimize(loss, adam(lr = 0.01));
    }
}

fn main() {
    let mut fit = Fit::new(Array1::zeros(3)).unwrap();
    let (x, y) = (Array2::<f32>::zeros((2, 3)), Array1::<f32>::zeros(2));
    let _loss: f32 = fit.train(x.view(), y.view()).unwrap();
}
