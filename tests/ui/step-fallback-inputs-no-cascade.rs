// An error away from the loss: the fallback's step takes the inputs the
// loss and the learning rate read, as the real one does, so calling it
// reports only the real mistake.
use staticflow::ndarray::{Array1, Array2};

staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        input lr: [];
        input other: [m];
        var w: [3];
        output loss = mean(square(matmul(x, w) - y));
        output broken = other + missing;
        step train = minimize(loss, sgd(lr = lr));
    }
}

fn main() {
    let mut fit = Fit::new(Array1::zeros(3)).unwrap();
    let (x, y) = (Array2::<f32>::zeros((2, 3)), Array1::<f32>::zeros(2));
    let _loss: f32 = fit.train(x.view(), y.view(), 0.1).unwrap();
    let mut workspace = FitWorkspace::default();
    let _loss: f32 = fit.train_with(&mut workspace, x.view(), y.view(), 0.1).unwrap();
}
