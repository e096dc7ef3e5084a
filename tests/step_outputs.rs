//! A step that also returns outputs (`minimize(.., outputs = [..])`): the
//! loss and the outputs of the forward pass the update is computed from,
//! against values worked out by hand.

use staticflow::graph;
use staticflow::ndarray::{arr1, arr2, Array1, Array2};

graph! {
    /// Linear regression with one SGD step that also returns its
    /// predictions and the absolute errors.
    struct Fit {
        input x: [n, 2];
        input y: [n];
        var w: [2];
        var b: [];
        output prediction = matmul(x, w) + b;
        output error = abs(prediction - y);
        output loss = mean(square(prediction - y));
        step fit = minimize(loss, sgd(lr = 0.1), outputs = [prediction, error]);
        step quiet = minimize(loss, sgd(lr = 0.1));
    }
}

fn close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-6 * w.abs().max(1.0),
            "{got:?} vs {want:?}"
        );
    }
}

// x = [[1, 0], [0, 1], [1, 1]], y = [1, 1, 1], w = [1, 2], b = 0.5:
// prediction = [1.5, 2.5, 3.5], residuals r = [0.5, 1.5, 2.5],
// loss = mean(r²) = 8.75 / 3; dL/dprediction = 2r/3 = [1/3, 1, 5/3], so
// dw = xᵀ·that = [2, 8/3], db = 3; after one step at lr 0.1,
// w = [0.8, 2 − 0.8/3], b = 0.2.
fn data() -> (Array2<f32>, Array1<f32>) {
    (
        arr2(&[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]),
        arr1(&[1.0, 1.0, 1.0]),
    )
}

#[test]
fn the_step_returns_the_outputs_it_updated_from() {
    let (x, y) = data();
    let mut fit = Fit::new(arr1(&[1.0, 2.0]), 0.5).expect("shapes");
    let (loss, prediction, error) = fit.fit(x.view(), y.view()).unwrap();
    close(&[loss], &[8.75 / 3.0]);
    close(prediction.as_slice().unwrap(), &[1.5, 2.5, 3.5]);
    close(error.as_slice().unwrap(), &[0.5, 1.5, 2.5]);
    close(fit.w().as_slice().unwrap(), &[0.8, 2.0 - 0.8 / 3.0]);
    close(&[fit.b()], &[0.2]);
}

#[test]
fn the_workspace_form_returns_views_and_matches_the_plain_step() {
    let (x, y) = data();
    let mut with_outputs = Fit::new(arr1(&[1.0, 2.0]), 0.5).expect("shapes");
    let mut plain = Fit::new(arr1(&[1.0, 2.0]), 0.5).expect("shapes");
    let mut workspace = FitWorkspace::default();
    for _ in 0..3 {
        // What the outputs' own methods give before the step.
        let before = plain.prediction(x.view()).unwrap();
        let plain_loss = plain.quiet(x.view(), y.view()).unwrap();
        let (loss, prediction, error) = with_outputs
            .fit_with(&mut workspace, x.view(), y.view())
            .unwrap();
        assert_eq!(loss, plain_loss);
        assert_eq!(prediction, before);
        assert_eq!(error, (&before - &y).mapv(f32::abs));
    }
    assert_eq!(with_outputs.w(), plain.w());
    assert_eq!(with_outputs.b(), plain.b());
    // The second step started from w = [0.8, 2 - 0.8/3], b = 0.2: the third
    // step's predictions moved on from the first's.
    let moved = with_outputs.prediction(x.view()).unwrap();
    assert!(
        moved.iter().zip([1.5, 2.5, 3.5]).all(|(m, p)| *m < p),
        "{moved}"
    );
}
