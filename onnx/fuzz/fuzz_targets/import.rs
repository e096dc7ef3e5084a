//! Fuzzes the ONNX importer: any bytes must give `Ok` or a non-empty list of
//! errors with messages, never a panic, a hang or a huge allocation; an
//! accepted model's weights hold as many values as their dims say, and its
//! `graph!` source can be written.

#![no_main]

use libfuzzer_sys::fuzz_target;
use staticflow_onnx::{graph_source, import};

fuzz_target!(|bytes: &[u8]| {
    match import(bytes, "fuzz.onnx") {
        Ok(model) => {
            for weight in &model.weights {
                assert_eq!(
                    weight.values.len(),
                    weight.dims.iter().product::<usize>(),
                    "weight `{}`",
                    weight.name
                );
            }
            let source = graph_source(&model, "Fuzzed", "fuzz.onnx", &[]);
            assert!(source.starts_with("graph! {"));
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            assert!(errors.iter().all(|e| !e.message.is_empty()));
        }
    }
});
