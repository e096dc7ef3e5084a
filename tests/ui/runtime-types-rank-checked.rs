// Ranks are part of the generated signature: feeding a 1-D array for a 2-D
// input is a type error at the call, caught by rustc.
use staticflow::ndarray::Array1;

staticflow::graph! {
    struct Dense {
        input x: [n, 3];
        output y = x * 2.0;
    }
}

fn main() {
    let x = Array1::<f32>::zeros(3);
    let _ = Dense::new().y(x.view());
}
