// A `#[no_std]` graph with one error still declares every item the real
// expansion would, with the same signatures, its `const fn`s usable in
// statics: code using all of them reports only the real mistake.
staticflow::graph! {
    #[no_std]
    struct Tiny {
        input x: [1, 3];
        input k: [];
        var w: [3, 2];
        var b: [2];
        var u: [4, 2];
        output y = relu(matmul(x, w) + b) * k;
        output class = argmax(y, axis = 1);
        output broken = matmul(x, u);
    }
}

static TINY: Tiny = Tiny::new([[0.0; 2]; 3], [0.0; 2], [[0.0; 2]; 4]);
const WORKSPACE: TinyWorkspace = TinyWorkspace::new();

fn main() {
    let mut tiny = Tiny::new([[0.0; 2]; 3], [0.0; 2], [[0.0; 2]; 4]);
    let _w: &[[f32; 2]; 3] = tiny.w();
    tiny.w_mut()[0][0] = 1.0;
    tiny.set_w([[0.0; 2]; 3]);
    let _b: &[f32; 2] = TINY.b();

    let x = [[1.0, 2.0, 3.0]];
    let _workspace = TinyWorkspace::default();
    let mut workspace = WORKSPACE;
    let _y: [[f32; 2]; 1] = tiny.y(&x, 1.0);
    let _y: [[f32; 2]; 1] = tiny.y_with(&mut workspace, &x, 1.0);
    let _class: [usize; 1] = tiny.class(&x, 1.0);
    let _class: [usize; 1] = tiny.class_with(&mut workspace, &x, 1.0);
    let outputs: TinyOutputs = tiny.run(&x, 1.0);
    let _class: [usize; 1] = outputs.class;
    let _outputs: TinyOutputs = tiny.run_with(&mut workspace, &x, 1.0);

    let _bytes: usize = Tiny::WORKSPACE_BYTES;
    let _dot: &str = Tiny::DOT;
    let _dot: &str = Tiny::DOT_AS_WRITTEN;
}
