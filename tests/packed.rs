//! Weight matrices that a product may apply to a single row keep a packed
//! copy (see `graph_runtime::kernels::packed`). These tests check that the
//! copy always holds the variable's current value: after construction,
//! `set_`, and edits through `_mut`. Values are worked out by hand.

use ndarray::{array, Array2};
use staticflow::graph;

graph! {
    /// One dense layer over any batch size.
    #[derive(Clone, Debug, PartialEq)]
    struct Layer {
        input x: [n, 3];
        var w: [3, 2];
        var b: [2];
        output y = relu(matmul(x, w) + b);
    }
}

fn layer() -> Layer {
    Layer::new(
        array![[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
        array![-4.5, 0.0],
    )
    .unwrap()
}

#[test]
fn one_row_and_several_rows_agree_with_the_hand_values() {
    let layer = layer();
    // x·w = [1 + 3, 2 + 3] = [4, 5]; + b = [-0.5, 5]; relu: [0, 5].
    assert_eq!(
        layer.y(array![[1.0_f32, 2.0, 3.0]].view()).unwrap(),
        array![[0.0, 5.0]]
    );
    // Rows: [4, 5] → [0, 5]; [0 + 6, 5 + 6] = [6, 11] → [1.5, 11]; zeros → [0, 0].
    let x = array![[1.0_f32, 2.0, 3.0], [0.0, 5.0, 6.0], [0.0, 0.0, 0.0]];
    assert_eq!(
        layer.y(x.view()).unwrap(),
        array![[0.0, 5.0], [1.5, 11.0], [0.0, 0.0]]
    );
}

#[test]
fn edits_reach_single_row_products() {
    let mut layer = layer();
    let x = array![[1.0_f32, 2.0, 3.0]];
    layer.w_mut()[[0, 0]] = 2.0;
    // x·w = [2 + 3, 5] = [5, 5]; + b: [0.5, 5].
    assert_eq!(layer.y(x.view()).unwrap(), array![[0.5, 5.0]]);
    {
        let mut w = layer.w_mut();
        w.row_mut(2).fill(0.0);
        w.column_mut(1).fill(-1.0);
    }
    // w = [[2, -1], [0, -1], [0, -1]]: x·w = [2, -6]; + b: [-2.5, -6] → 0.
    assert_eq!(layer.y(x.view()).unwrap(), array![[0.0, 0.0]]);
    layer.set_w(Array2::ones((3, 2))).unwrap();
    // x·w = [6, 6]; + b: [1.5, 6].
    assert_eq!(layer.y(x.view()).unwrap(), array![[1.5, 6.0]]);
    // The batch path reads the same value.
    let rows = array![[1.0_f32, 2.0, 3.0], [1.0, 2.0, 3.0]];
    assert_eq!(
        layer.y(rows.view()).unwrap(),
        array![[1.5, 6.0], [1.5, 6.0]]
    );
}

#[test]
fn clones_and_loaded_weights_carry_their_copy() {
    let mut layer = layer();
    layer.w_mut()[[1, 1]] = 3.0;
    let copy = layer.clone();
    assert_eq!(copy, layer);
    // x·w = [1 + 3, 6 + 3] = [4, 9]; + b: [-0.5, 9] → [0, 9].
    let x = array![[1.0_f32, 2.0, 3.0]];
    assert_eq!(copy.y(x.view()).unwrap(), array![[0.0, 9.0]]);
    let loaded = Layer::from_weights(
        staticflow::weights::Weights::from_safetensors_bytes(layer.to_safetensors_bytes()).unwrap(),
        true,
    )
    .unwrap();
    assert_eq!(loaded.y(x.view()).unwrap(), array![[0.0, 9.0]]);
    // `zeros`: relu(0 + 0) everywhere.
    assert_eq!(Layer::zeros().y(x.view()).unwrap(), array![[0.0, 0.0]]);
}
