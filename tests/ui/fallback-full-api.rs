// A graph with one error still declares every item the real expansion
// would, with the same signatures: code using all of them reports only the
// real mistake.
use staticflow::kernels::packed::WeightsMut;
use staticflow::ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};
use staticflow::summary::Summary;
use staticflow::weights::Weights;

staticflow::graph! {
    struct Model {
        input x: [2, 3];
        input lr: [];
        var w: [3, 2];
        var b: [2];
        var s: [];
        var v: [3, 2];
        var u: [4, 2];
        output y = matmul(x, w) + b;
        output total = sum(y) + s;
        output z = matmul(x, v);
        output broken = matmul(x, u);
        w = w - lr * w;
        s = s + 1.0;
    }
}

fn main() -> Result<(), staticflow::Error> {
    let x = Array2::<f32>::zeros((2, 3));
    let mut m = Model::new(
        Array2::zeros((3, 2)),
        Array1::zeros(2),
        0.0,
        Array2::zeros((3, 2)),
        Array2::zeros((4, 2)),
    )?;
    let _zeros = Model::zeros();
    let _default = Model::default();
    let _loaded = Model::from_weights(Weights::from_safetensors_file("model.safetensors")?, true)?;
    let _loaded = Model::from_safetensors("model.safetensors")?;
    let _loaded = Model::from_npy_dir("weights")?;
    let _bytes: Vec<u8> = m.to_safetensors_bytes();
    m.save_safetensors("model.safetensors")?;

    let _w: ArrayView2<'_, f32> = m.w();
    let _w: ArrayViewMut2<'_, f32> = m.w_mut();
    m.set_w(Array2::zeros((3, 2)))?;
    let _s: f32 = m.s();
    *m.s_mut() = 1.0;
    m.set_s(2.0);
    // The guard packs `v` again when dropped.
    drop::<WeightsMut<'_>>(m.v_mut());

    let mut workspace = ModelWorkspace::default();
    let _y: Array2<f32> = m.y(x.view())?;
    let _y: ArrayView2<'_, f32> = m.y_with(&mut workspace, x.view())?;
    let _total: f32 = m.total(x.view())?;
    let _total: f32 = m.total_with(&mut workspace, x.view())?;
    let outputs: ModelOutputs = m.run(x.view())?;
    let _y: Array2<f32> = outputs.y;
    let _total: f32 = outputs.total;
    let views: ModelOutputViews<'_> = m.run_with(&mut workspace, x.view())?;
    let _z: ArrayView2<'_, f32> = views.z;
    m.update(0.1)?;
    m.update_with(&mut workspace, 0.1)?;

    let _bytes: usize = Model::WORKSPACE_BYTES;
    let _dot: &str = Model::DOT;
    let _dot: &str = Model::DOT_AS_WRITTEN;
    let summary: Summary = Model::SUMMARY;
    println!("{summary}");
    Ok(())
}
