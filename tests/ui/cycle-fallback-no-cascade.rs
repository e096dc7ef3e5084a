// A cycle stops the pipeline, but the graph still declares its struct and
// methods, each output taking every input: code using them reports only
// the cycle.
use staticflow::ndarray::{Array1, Array2};

staticflow::graph! {
    struct Loop {
        input x: [n, 3];
        var w: [3];
        let a = b + 1.0;
        let b = a * 2.0;
        output y = matmul(x, w) + a;
    }
}

fn main() {
    let model = Loop::new(Array1::zeros(3)).unwrap();
    let x = Array2::<f32>::zeros((2, 3));
    let _y = model.y(x.view()).unwrap();
    let _outputs: LoopOutputs = model.run(x.view()).unwrap();
    let _w = model.w();
}
