// An error found once the optimizer's state exists: the fallback `new` must
// still take the parameters only, not the state.
use staticflow::ndarray::Array1;

staticflow::graph! {
    struct Fit {
        input x: [n, 3];
        input y: [n];
        var w: [3];
        output loss = mean(square(matmul(x, w) - y));
        output train_m_w = x * 2.0;
        step train = minimize(loss, adam(lr = 0.01));
    }
}

fn main() {
    let _fit = Fit::new(Array1::zeros(3)).unwrap();
}
