//! The ONNX fixtures of `tests/reference/fixtures/onnx/` (written by
//! `tests/reference/onnx_models.py` and `onnx_ops.py`) and the comparison
//! with onnxruntime's outputs, shared by `tests/onnx.rs`,
//! `tests/onnx_ops.rs` and `tests/onnx_ejected.rs`.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use staticflow::ndarray::ArrayD;
use staticflow::weights::{read_npy_f32, read_npy_usize};

/// `tests/reference/fixtures/onnx/<name>.npy`, `f32`.
pub fn fixture(name: &str) -> ArrayD<f32> {
    read_npy_f32(path(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// `tests/reference/fixtures/onnx/<name>.npy`, integers.
pub fn labels(name: &str) -> ArrayD<usize> {
    read_npy_usize(path(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}

fn path(name: &str) -> String {
    format!(
        "{}/tests/reference/fixtures/onnx/{name}.npy",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Asserts `got` matches onnxruntime's `want` element by element: within
/// `1e-5` relative, with a floor of `1e-6` absolute, since two float32 runs
/// of the same model differ by up to 7e-7 (the fixtures' manifest records
/// it), far more than 1e-5 relative on outputs near zero.
#[track_caller]
pub fn assert_matches(what: &str, got: &ArrayD<f32>, want: &ArrayD<f32>) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        let diff = (g - w).abs();
        assert!(
            diff <= 1e-5 * w.abs() + 1e-6,
            "{what}[{i}]: got {g}, onnxruntime {w} (difference {diff:e})"
        );
    }
}
