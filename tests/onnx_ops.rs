//! One small ONNX model per operator form the importer maps (the attribute
//! forms and opsets that change an operator's meaning), imported at build
//! time and compared with onnxruntime's outputs on the same inputs
//! (`tests/reference/onnx_ops.py` writes the models and values; tolerance
//! as in `tests/onnx.rs`). Needs the `onnx` feature, which
//! `cargo test --workspace` has.

#[path = "common/onnx.rs"]
mod common;

use staticflow::ndarray::{Ix1, Ix2, Ix3, Ix4};

/// `ops/<model>.<name>.npy`.
fn fixture(model: &str, name: &str) -> staticflow::ndarray::ArrayD<f32> {
    common::fixture(&format!("ops/{model}.{name}"))
}

use common::assert_matches;

/// A test importing `ops/<model>.onnx`, feeding its inputs (of the given
/// ranks) and comparing every listed output.
macro_rules! case {
    ($model:ident, $path:tt, [$($input:ident: $rank:ty),*], [$($output:ident),*]) => {
        #[test]
        fn $model() {
            staticflow::graph! {
                #[onnx($path)]
                struct Model;
            }
            $(let $input = fixture(stringify!($model), stringify!($input))
                .into_dimensionality::<$rank>()
                .unwrap();)*
            let out = Model::new().run($(&$input),*).unwrap();
            $(assert_matches(
                concat!(stringify!($model), ".", stringify!($output)),
                &out.$output.into_dyn(),
                &fixture(stringify!($model), stringify!($output)),
            );)*
        }
    };
}

case!(gemm_flags, "tests/reference/fixtures/onnx/ops/gemm_flags.onnx", [a: Ix2], [out]);
case!(gemm_tensors, "tests/reference/fixtures/onnx/ops/gemm_tensors.onnx", [a: Ix2, b: Ix2, c: Ix2], [out]);
case!(matmul_batched, "tests/reference/fixtures/onnx/ops/matmul_batched.onnx", [a: Ix3, b: Ix3], [out]);
case!(matmul_vector, "tests/reference/fixtures/onnx/ops/matmul_vector.onnx", [a: Ix2], [out]);
case!(softmax_opset11, "tests/reference/fixtures/onnx/ops/softmax_opset11.onnx", [x: Ix3], [out]);
case!(log_softmax_opset13, "tests/reference/fixtures/onnx/ops/log_softmax_opset13.onnx", [x: Ix3], [out]);
case!(clip_inputs, "tests/reference/fixtures/onnx/ops/clip_inputs.onnx", [x: Ix2], [out]);
case!(clip_attributes, "tests/reference/fixtures/onnx/ops/clip_attributes.onnx", [x: Ix2], [out]);
case!(
    activations,
    "tests/reference/fixtures/onnx/ops/activations.onnx",
    [x: Ix2],
    [leaky, hard, elu, softplus, sigmoid, tanh, erf, neg, exp, abs, sqrt, log, cube]
);
case!(gelu_tanh, "tests/reference/fixtures/onnx/ops/gelu_tanh.onnx", [x: Ix2], [out]);
case!(broadcasting, "tests/reference/fixtures/onnx/ops/broadcasting.onnx", [x: Ix2], [out]);
case!(reduce_attributes, "tests/reference/fixtures/onnx/ops/reduce_attributes.onnx", [x: Ix3], [mean, max, min]);
case!(reduce_inputs, "tests/reference/fixtures/onnx/ops/reduce_inputs.onnx", [x: Ix3], [sum, mean]);
case!(slice_concat, "tests/reference/fixtures/onnx/ops/slice_concat.onnx", [x: Ix2], [out]);
case!(
    squeeze_unsqueeze_inputs,
    "tests/reference/fixtures/onnx/ops/squeeze_unsqueeze_inputs.onnx",
    [x: Ix2],
    [out]
);
case!(
    squeeze_unsqueeze_attributes,
    "tests/reference/fixtures/onnx/ops/squeeze_unsqueeze_attributes.onnx",
    [x: Ix2],
    [out]
);
case!(gather_index, "tests/reference/fixtures/onnx/ops/gather_index.onnx", [x: Ix2], [out]);
case!(transpose, "tests/reference/fixtures/onnx/ops/transpose.onnx", [x: Ix3], [out]);
case!(flatten_axis2, "tests/reference/fixtures/onnx/ops/flatten_axis2.onnx", [x: Ix4], [out]);
case!(
    reshape_zero_minus_one,
    "tests/reference/fixtures/onnx/ops/reshape_zero_minus_one.onnx",
    [x: Ix3],
    [out]
);
case!(pools, "tests/reference/fixtures/onnx/ops/pools.onnx", [x: Ix4], [avg_pad, max_asym, avg_same, global_max]);
case!(conv_forms, "tests/reference/fixtures/onnx/ops/conv_forms.onnx", [x: Ix4], [dilated, same_lower, strided]);
case!(batch_norm_2d, "tests/reference/fixtures/onnx/ops/batch_norm_2d.onnx", [x: Ix2], [out]);
case!(layer_norm_no_bias, "tests/reference/fixtures/onnx/ops/layer_norm_no_bias.onnx", [x: Ix3], [out]);
case!(constant_of_shape, "tests/reference/fixtures/onnx/ops/constant_of_shape.onnx", [x: Ix2], [out]);

#[test]
fn argmax() {
    staticflow::graph! {
        #[onnx("tests/reference/fixtures/onnx/ops/argmax.onnx")]
        struct Model;
    }
    let x = fixture("argmax", "x").into_dimensionality::<Ix2>().unwrap();
    let want = common::labels("ops/argmax.out")
        .into_dimensionality::<Ix1>()
        .unwrap();
    assert_eq!(Model::new().out(&x).unwrap(), want);
}

#[test]
fn gather_embedding() {
    staticflow::graph! {
        #[onnx("tests/reference/fixtures/onnx/ops/gather_embedding.onnx")]
        struct Model;
    }
    let ids = common::labels("ops/gather_embedding.ids")
        .into_dimensionality::<Ix2>()
        .unwrap();
    let got = Model::new().out(&ids).unwrap().into_dyn();
    assert_matches(
        "gather_embedding",
        &got,
        &fixture("gather_embedding", "out"),
    );
}
