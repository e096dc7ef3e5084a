// A graph with an error elsewhere: its step still returns the loss and the
// outputs it lists, so code using them reports only the real mistake.
use staticflow::ndarray::{Array1, Array2};

staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        input other: [m];
        var w: [3];
        output prediction = matmul(x, w);
        output loss = mean(square(prediction - y));
        output broken = other + missing;
        step fit = minimize(loss, sgd(lr = 0.1), outputs = [prediction]);
    }
}

fn main() {
    let mut fit = Fit::new(Array1::zeros(3)).unwrap();
    let (x, y) = (Array2::<f32>::zeros((2, 3)), Array1::<f32>::zeros(2));
    let (_loss, prediction): (f32, Array1<f32>) = fit.fit(x.view(), y.view()).unwrap();
    let mut workspace = FitWorkspace::default();
    let (_loss, view) = fit.fit_with(&mut workspace, x.view(), y.view()).unwrap();
    assert_eq!(view, prediction);
}
