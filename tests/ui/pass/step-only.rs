// A graph whose only entry point is a training step (the inference graph
// lives elsewhere) is complete: a step is an update.
use staticflow::ndarray::{Array1, Array2};

staticflow::graph! {
    struct Trainer {
        input x: [n, 3];
        input y: [n];
        var w: [3];
        let loss = mean(square(matmul(x, w) - y));
        step train = minimize(loss, sgd(lr = 0.1));
    }
}

fn main() {
    let mut trainer = Trainer::zeros();
    let (x, y) = (Array2::<f32>::ones((2, 3)), Array1::<f32>::ones(2));
    let loss = trainer.train(x.view(), y.view()).unwrap();
    assert_eq!(loss, 1.0);
}
