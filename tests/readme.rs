//! The README's example, kept compiling and correct.

use staticflow::graph;
use staticflow::ndarray::array;

graph! {
    /// One dense layer over a batch of any size `n`.
    pub struct Dense {
        input x: [n, 3];
        var w: [3, 2];
        var b: [2];
        let h: [n, 2] = matmul(x, w) + b;
        output y = h * h;
    }
}

#[test]
fn readme_example() -> Result<(), staticflow::Error> {
    let dense = Dense::new(
        array![[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]],
        array![0.5, 1.0],
    )?;
    let x = array![[1.0, 2.0, 3.0]];
    // Or x.view(): anything ndarray turns into a view.
    let y = dense.y(&x)?;
    // h = [1 + 3 + 0.5, 2 - 3 + 1] = [4.5, 0]; y = h² = [20.25, 0].
    assert_eq!(y, array![[20.25, 0.0]]);
    let err = dense
        .y(staticflow::ndarray::Array2::zeros((4, 5)).view())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "input `x` has shape [4, 5], but the graph declares [n, 3]"
    );
    Ok(())
}
