//! The ejected sources committed under
//! `tests/reference/fixtures/onnx/ejected/` (which `tests/onnx_ejected.rs`
//! compiles and checks against onnxruntime) are what the importer writes
//! today, weights included: regenerate them with the command in that
//! directory's README if this fails after a change to the importer.

use std::path::PathBuf;

use graph_runtime::weights::SafeTensors;
use staticflow_onnx::{graph_source, import};

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn committed_ejected_sources_are_current() {
    let dir = "tests/reference/fixtures/onnx";
    for (model, name) in [
        ("mlp", "Mlp"),
        ("lenet", "Lenet"),
        ("bn_gap", "BnGap"),
        ("transformer", "Transformer"),
        ("sklearn_digits", "SklearnDigits"),
    ] {
        let bytes = std::fs::read(repository().join(format!("{dir}/{model}.onnx"))).unwrap();
        let label = format!("{dir}/{model}.onnx");
        let imported = import(&bytes, &label).unwrap_or_else(|e| panic!("{model}: {e:?}"));
        let weights = format!("{dir}/ejected/{model}.safetensors");
        let source = graph_source(
            &imported,
            name,
            &format!("{model}.onnx"),
            &[format!("#[weights(\"{weights}\")]")],
        );
        let committed =
            std::fs::read_to_string(repository().join(format!("{dir}/ejected/{model}.rs")))
                .unwrap();
        assert_eq!(source, committed, "{model}: the ejected source changed");
        let file = std::fs::read(repository().join(&weights)).unwrap();
        let tensors = SafeTensors::parse(&file).unwrap();
        for weight in &imported.weights {
            let tensor = tensors.get(&weight.name).unwrap();
            assert_eq!(tensor.shape, weight.dims, "{model}: {}", weight.name);
            assert_eq!(
                tensor.to_f32_vec().unwrap(),
                weight.values,
                "{model}: {}",
                weight.name
            );
        }
        assert_eq!(
            tensors.len(),
            imported.weights.len(),
            "{model}: tensor count"
        );
    }
}
