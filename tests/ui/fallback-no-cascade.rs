// A graph with an error still declares its struct and methods, so the code
// that uses it compiles and only the real mistake is reported.
use staticflow::ndarray::Array2;

staticflow::graph! {
    struct Dense {
        input x: [n, 3];
        var w: [4, 2];
        output y = matmul(x, w);
    }
}

fn main() {
    let dense = Dense::zeros();
    let x = Array2::<f32>::zeros((1, 3));
    let _y = dense.y(x.view());
}
