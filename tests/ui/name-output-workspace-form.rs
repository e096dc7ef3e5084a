// An output `y_with` clashes with the workspace form of output `y`: one
// error, and the fallback declares `y_with` once.
use staticflow::ndarray::Array1;

staticflow::graph! {
    struct Clash {
        input x: [3];
        output y = x * 2.0;
        output y_with = x * 3.0;
    }
}

fn main() {
    let x = Array1::<f32>::zeros(3);
    let mut workspace = ClashWorkspace::default();
    let _y = Clash::new().y_with(&mut workspace, x.view());
}
