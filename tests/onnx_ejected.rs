//! The fixture models as the `staticflow-onnx` command ejects them: plain
//! `graph!` source with `#[weights(..)]`, which needs no `onnx` feature,
//! against onnxruntime's outputs (as `tests/onnx.rs` checks the build-time
//! import). `onnx/tests/eject.rs` checks that these files are what the
//! command prints today.

use staticflow::ndarray::{ArrayD, Ix1, Ix2, Ix3, Ix4};
use staticflow::weights::{read_npy_f32, read_npy_usize};

mod mlp {
    use staticflow::graph;
    include!("reference/fixtures/onnx/ejected/mlp.rs");
}

mod lenet {
    use staticflow::graph;
    include!("reference/fixtures/onnx/ejected/lenet.rs");
}

mod bn_gap {
    use staticflow::graph;
    include!("reference/fixtures/onnx/ejected/bn_gap.rs");
}

mod transformer {
    use staticflow::graph;
    include!("reference/fixtures/onnx/ejected/transformer.rs");
}

mod sklearn_digits {
    use staticflow::graph;
    include!("reference/fixtures/onnx/ejected/sklearn_digits.rs");
}

fn fixture(name: &str) -> ArrayD<f32> {
    let path = format!(
        "{}/tests/reference/fixtures/onnx/{name}.npy",
        env!("CARGO_MANIFEST_DIR")
    );
    read_npy_f32(path).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// Asserts `got` matches onnxruntime's `want`: `1e-5` relative, `1e-6`
/// absolute floor (see `tests/onnx.rs`).
#[track_caller]
fn assert_matches(what: &str, got: &ArrayD<f32>, want: &ArrayD<f32>) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        let diff = (g - w).abs();
        assert!(
            diff <= 1e-5 * w.abs() + 1e-6,
            "{what}[{i}]: got {g}, onnxruntime {w}"
        );
    }
}

#[test]
fn ejected_models_match_onnxruntime() {
    for batch in ["b1", "b5"] {
        let x = fixture(&format!("mlp.{batch}.input"))
            .into_dimensionality::<Ix2>()
            .unwrap();
        let got = mlp::Mlp::new().probabilities(&x).unwrap().into_dyn();
        assert_matches("mlp", &got, &fixture(&format!("mlp.{batch}.probabilities")));

        let x = fixture(&format!("lenet.{batch}.image"))
            .into_dimensionality::<Ix4>()
            .unwrap();
        let got = lenet::Lenet::new().logits(&x).unwrap().into_dyn();
        assert_matches("lenet", &got, &fixture(&format!("lenet.{batch}.logits")));

        let x = fixture(&format!("bn_gap.{batch}.image"))
            .into_dimensionality::<Ix4>()
            .unwrap();
        let got = bn_gap::BnGap::new().logits(&x).unwrap().into_dyn();
        assert_matches("bn_gap", &got, &fixture(&format!("bn_gap.{batch}.logits")));

        let x = fixture(&format!("transformer.{batch}.tokens"))
            .into_dimensionality::<Ix3>()
            .unwrap();
        let got = transformer::Transformer::new()
            .output(&x)
            .unwrap()
            .into_dyn();
        assert_matches(
            "transformer",
            &got,
            &fixture(&format!("transformer.{batch}.output")),
        );
    }
    let x = fixture("sklearn_digits.test.input")
        .into_dimensionality::<Ix2>()
        .unwrap();
    let labels = sklearn_digits::SklearnDigits::new().label(&x).unwrap();
    let path = format!(
        "{}/tests/reference/fixtures/onnx/sklearn_digits.test.sklearn_predict.npy",
        env!("CARGO_MANIFEST_DIR")
    );
    let want = read_npy_usize(path)
        .unwrap()
        .into_dimensionality::<Ix1>()
        .unwrap();
    assert_eq!(labels, want);
}
