//! ONNX models imported when this crate compiles (`#[onnx(..)]`) against
//! onnxruntime's outputs for the same inputs, at batch 1 and 5 through the
//! symbolic batch. The models, inputs and outputs are fixtures written by
//! `tests/reference/onnx_models.py` (`PyTorch` and scikit-learn exports, run
//! by onnxruntime with its graph optimizations off).
//!
//! The tolerance is `1e-5` relative with a floor of `1e-6` absolute
//! (`common/onnx.rs` says why).
//!
//! Needs the `onnx` feature; `cargo test --workspace` has it, as the
//! compile-fail suite's dependency enables it.

#[path = "common/onnx.rs"]
mod common;

use common::{assert_matches, fixture, labels};
use staticflow::graph;
use staticflow::ndarray::{ArrayD, Ix1, Ix2, Ix3, Ix4};

const DIR: &str = "tests/reference/fixtures/onnx";

graph! {
    #[onnx("tests/reference/fixtures/onnx/mlp.onnx")]
    struct Mlp;
}

graph! {
    #[onnx("tests/reference/fixtures/onnx/mlp_opset_latest.onnx")]
    struct MlpOpsetLatest;
}

graph! {
    #[onnx("tests/reference/fixtures/onnx/lenet.onnx")]
    struct Lenet;
}

graph! {
    #[onnx("tests/reference/fixtures/onnx/lenet_shape_ops.onnx")]
    struct LenetShapeOps;
}

graph! {
    #[onnx("tests/reference/fixtures/onnx/bn_gap.onnx")]
    struct BnGap;
}

graph! {
    #[onnx("tests/reference/fixtures/onnx/transformer.onnx")]
    struct Transformer;
}

graph! {
    #[onnx("tests/reference/fixtures/onnx/transformer_opset17.onnx")]
    struct TransformerOpset17;
}

graph! {
    #[onnx("tests/reference/fixtures/onnx/sklearn_digits.onnx")]
    struct SklearnDigits;
}

#[test]
fn mlp_matches_onnxruntime() {
    for batch in ["b1", "b5"] {
        let x = fixture(&format!("mlp.{batch}.input"))
            .into_dimensionality::<Ix2>()
            .unwrap();
        let out = Mlp::new().run(&x).unwrap();
        assert_matches(
            "logits",
            &out.logits.into_dyn(),
            &fixture(&format!("mlp.{batch}.logits")),
        );
        assert_matches(
            "probabilities",
            &out.probabilities.into_dyn(),
            &fixture(&format!("mlp.{batch}.probabilities")),
        );
        let latest = MlpOpsetLatest::new().run(&x).unwrap();
        assert_matches(
            "opset 23 logits",
            &latest.logits.into_dyn(),
            &fixture(&format!("mlp_opset_latest.{batch}.logits")),
        );
    }
}

#[test]
fn lenet_matches_onnxruntime() {
    for batch in ["b1", "b5"] {
        let x = fixture(&format!("lenet.{batch}.image"))
            .into_dimensionality::<Ix4>()
            .unwrap();
        let want = fixture(&format!("lenet.{batch}.logits"));
        assert_matches(
            "logits",
            &Lenet::new().logits(&x).unwrap().into_dyn(),
            &want,
        );
        // The same network flattened by `Shape` arithmetic, folded at build time.
        let shape_ops = LenetShapeOps::new().logits(&x).unwrap().into_dyn();
        assert_matches(
            "shape-ops logits",
            &shape_ops,
            &fixture(&format!("lenet_shape_ops.{batch}.logits")),
        );
    }
}

#[test]
fn batch_norm_conv_net_matches_onnxruntime() {
    for batch in ["b1", "b5"] {
        let x = fixture(&format!("bn_gap.{batch}.image"))
            .into_dimensionality::<Ix4>()
            .unwrap();
        let got = BnGap::new().logits(&x).unwrap().into_dyn();
        assert_matches("logits", &got, &fixture(&format!("bn_gap.{batch}.logits")));
    }
}

#[test]
fn transformer_block_matches_onnxruntime() {
    for batch in ["b1", "b5"] {
        let x = fixture(&format!("transformer.{batch}.tokens"))
            .into_dimensionality::<Ix3>()
            .unwrap();
        let got = Transformer::new().output(&x).unwrap().into_dyn();
        assert_matches(
            "output",
            &got,
            &fixture(&format!("transformer.{batch}.output")),
        );
    }
}

#[test]
fn sklearn_classifier_reproduces_its_test_predictions() {
    let x = fixture("sklearn_digits.test.input")
        .into_dimensionality::<Ix2>()
        .unwrap();
    let out = SklearnDigits::new().run(&x).unwrap();
    let want = labels("sklearn_digits.test.sklearn_predict")
        .into_dimensionality::<Ix1>()
        .unwrap();
    assert_eq!(want.len(), 360);
    assert_eq!(out.label, want, "scikit-learn's own predictions");
    assert_eq!(
        out.label,
        labels("sklearn_digits.test.label")
            .into_dimensionality::<Ix1>()
            .unwrap()
    );
    assert_matches(
        "probabilities",
        &out.probabilities.into_dyn(),
        &fixture("sklearn_digits.test.probabilities"),
    );
}

graph! {
    /// The MLP for firmware: batch fixed to 1, no `std`, no allocator.
    #[no_std]
    #[onnx("tests/reference/fixtures/onnx/mlp.onnx", batch = 1)]
    struct MlpBare;
}

graph! {
    /// The MLP with its weights read at run time (from the safetensors file
    /// `staticflow-onnx` writes).
    #[onnx("tests/reference/fixtures/onnx/mlp.onnx", weights = runtime)]
    struct MlpLoaded;
}

#[test]
fn no_std_import_matches_onnxruntime() {
    let x = fixture("mlp.b1.input");
    let mut row = [[0.0_f32; 64]; 1];
    for (slot, v) in row[0].iter_mut().zip(x.iter()) {
        *slot = *v;
    }
    let mut workspace = MlpBareWorkspace::new();
    let logits = MlpBare::new().logits_with(&mut workspace, &row);
    let got = ArrayD::from_shape_vec(vec![1, 10], logits[0].to_vec()).unwrap();
    assert_matches("no_std logits", &got, &fixture("mlp.b1.logits"));
}

#[test]
fn runtime_weights_load_the_ejected_file() {
    let path = format!(
        "{}/{DIR}/ejected/mlp.safetensors",
        env!("CARGO_MANIFEST_DIR")
    );
    let model = MlpLoaded::from_safetensors(path).unwrap();
    let x = fixture("mlp.b5.input")
        .into_dimensionality::<Ix2>()
        .unwrap();
    let got = model.logits(&x).unwrap().into_dyn();
    assert_matches("loaded logits", &got, &fixture("mlp.b5.logits"));
}

#[test]
fn imported_graphs_have_the_generated_introspection() {
    // The summary counts the imported layers' parameters: 64·32 + 32 + 32·10 + 10.
    assert!(
        Mlp::SUMMARY.to_string().contains("2410"),
        "{}",
        Mlp::SUMMARY
    );
    assert!(Lenet::DOT.contains("conv2d"));
}

graph! {
    /// A body adds declarations that use the model's names.
    #[onnx("tests/reference/fixtures/onnx/mlp.onnx")]
    struct MlpClassify {
        output class = argmax(logits, axis = 1);
    }
}

#[test]
fn a_body_extends_the_imported_graph() {
    let x = fixture("mlp.b5.input")
        .into_dimensionality::<Ix2>()
        .unwrap();
    let logits = fixture("mlp.b5.logits");
    let classes = MlpClassify::new().class(&x).unwrap();
    for (row, class) in logits.outer_iter().zip(classes.iter()) {
        let best = row
            .iter()
            .enumerate()
            .fold(
                (0, f32::MIN),
                |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc },
            )
            .0;
        assert_eq!(*class, best);
    }
}
