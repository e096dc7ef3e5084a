//! tract running the ONNX fixture models of the main repository
//! (`tests/reference/fixtures/onnx/`), as a tract user serving a model
//! would: the file loaded, its batch fixed with `with_input_fact`,
//! `into_optimized().into_runnable()`, and one reused `SimpleState`.

use std::path::PathBuf;

use tract_onnx::prelude::*;

/// The main repository's ONNX fixtures.
fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/reference/fixtures/onnx")
}

/// The shape and `f32` values of an `.npy` fixture, read with the main
/// repository's reader.
///
/// # Panics
/// If the file is missing or not an `f32` array (the fixtures are).
#[must_use]
pub fn read_npy(name: &str) -> (Vec<usize>, Vec<f32>) {
    let array = graph_runtime::weights::read_npy_f32(fixtures().join(name))
        .unwrap_or_else(|err| panic!("{name}: {err}"));
    (array.shape().to_vec(), array.iter().copied().collect())
}

/// `rows` rows cycled from an `[n, ..]` fixture's values (row `i` is row
/// `i mod n`), as `benches/onnx.rs` builds its batch of 64.
#[must_use]
pub fn cycle_rows(values: &[f32], n: usize, rows: usize) -> Vec<f32> {
    let row = values.len() / n;
    (0..rows)
        .flat_map(|i| values[(i % n) * row..(i % n + 1) * row].iter().copied())
        .collect()
}

/// A model loaded and optimized by tract for one input shape, with that input.
pub struct Plan {
    state: TypedSimpleState,
    inputs: TVec<TValue>,
}

impl Plan {
    /// `<file>` with its input fixed to `shape` and fed `input`.
    ///
    /// # Panics
    /// If tract cannot load the model (a benchmark needs it to).
    #[must_use]
    pub fn new(file: &str, shape: &[usize], input: &[f32]) -> Self {
        let plan = tract_onnx::onnx()
            .model_for_path(fixtures().join(file))
            .and_then(|model| model.with_input_fact(0, f32::fact(shape).into()))
            .and_then(|model| model.into_optimized())
            .and_then(|model| model.into_runnable())
            .expect("tract loads and optimizes the model");
        let state = plan.spawn().expect("a state");
        let input = Tensor::from_shape(shape, input).expect("an input of the shape");
        Self {
            state,
            inputs: tvec![input.into_tvalue()],
        }
    }

    /// One forward pass, its outputs as tract gives them (what the timed
    /// loop keeps: no copy).
    ///
    /// # Panics
    /// If the model fails on its input.
    pub fn run(&mut self) -> TVec<TValue> {
        self.state.run(self.inputs.clone()).expect("the model runs")
    }

    /// The first output of one pass (the logits), row-major.
    pub fn logits(&mut self) -> Vec<f32> {
        let out = self.run();
        let logits = out.first().expect("a model output");
        logits
            .to_plain_array_view::<f32>()
            .expect("f32 logits")
            .iter()
            .copied()
            .collect()
    }
}
