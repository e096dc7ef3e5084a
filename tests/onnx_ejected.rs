//! The fixture models as the `staticflow-onnx` command ejects them: plain
//! `graph!` source with `#[weights(..)]`, which needs no `onnx` feature,
//! against onnxruntime's outputs (as `tests/onnx.rs` checks the build-time
//! import). `onnx/tests/eject.rs` checks that these files are what the
//! command prints today.

#[path = "common/onnx.rs"]
mod common;

use common::{assert_matches, fixture, labels};
use staticflow::ndarray::{Ix1, Ix2, Ix3, Ix4};

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
    let predicted = sklearn_digits::SklearnDigits::new().label(&x).unwrap();
    let want = labels("sklearn_digits.test.sklearn_predict")
        .into_dimensionality::<Ix1>()
        .unwrap();
    assert_eq!(predicted, want);
}
