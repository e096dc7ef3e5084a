//! Reads the JAX fixtures of `tests/reference/fixtures/training/` (written by
//! `tests/reference/training.py`, whose docstring documents the layout) with
//! the JSON reader of `tests/common`, and compares results with them.
//!
//! Every float of the fixtures is a float32 value written so that parsing it
//! as an f64 and rounding to f32 gives it back exactly: the casts below are
//! exact.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::path::PathBuf;

use staticflow::ndarray::{Array, Array1, ArrayD, ArrayView, Dimension, IxDyn};

use crate::common::{parse_json, Json};

/// The parsed `fixtures/training/<name>.json`.
pub fn load(name: &str) -> Json {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/reference/fixtures/training")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
    parse_json(&text)
}

/// The value at `key`, which the fixture must have.
#[track_caller]
pub fn field<'a>(value: &'a Json, key: &str) -> &'a Json {
    value
        .get(key)
        .unwrap_or_else(|| panic!("the fixture has no `{key}`"))
}

/// A fixture float as the f32 it stores exactly.
#[allow(clippy::cast_possible_truncation)]
pub fn single(value: &Json) -> f32 {
    value.float() as f32
}

/// A list of floats.
pub fn floats(value: &Json) -> Vec<f32> {
    value.items().iter().map(single).collect()
}

/// A tensor `{"shape", "data"}` of floats, of rank `D`.
#[track_caller]
pub fn tensor<D: Dimension>(value: &Json) -> Array<f32, D> {
    let shape: Vec<usize> = field(value, "shape")
        .items()
        .iter()
        .map(Json::index)
        .collect();
    let data = floats(field(value, "data"));
    ArrayD::from_shape_vec(IxDyn(&shape), data)
        .expect("data matching the shape")
        .into_dimensionality::<D>()
        .expect("a tensor of the expected rank")
}

/// A tensor of class labels (whole numbers).
pub fn labels(value: &Json) -> Array1<usize> {
    field(value, "data")
        .items()
        .iter()
        .map(Json::index)
        .collect()
}

/// The one entry of a list of named objects (`"cases"`, `"runs"`) named
/// `name`.
#[track_caller]
pub fn named<'a>(list: &'a Json, name: &str) -> &'a Json {
    let found: Vec<&Json> = list
        .items()
        .iter()
        .filter(|item| field(item, "name").text() == name)
        .collect();
    assert_eq!(found.len(), 1, "one entry named `{name}`");
    found[0]
}

/// `|actual − expected| ≤ abs + rel·|expected|`, elementwise.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    pub rel: f64,
    pub abs: f64,
}

/// The tolerance `training.py` suggests for gradients, weights and optimizer
/// state: its float32 re-runs of every trajectory stayed within 4e-7 of the
/// float64 reference, relative to each tensor's largest magnitude, and a
/// float32 implementation summing in another order adds a few ulps more.
pub const TENSORS: Tolerance = Tolerance {
    rel: 1e-4,
    abs: 1e-5,
};

/// The tolerance `training.py` suggests for losses: relative only (its
/// float32 re-runs stayed within 5e-6; the momentum runs end near a loss of
/// 3e-4, where cross-entropy's cancellation costs digits).
pub const LOSSES: Tolerance = Tolerance {
    rel: 1e-4,
    abs: 0.0,
};

/// Whether `actual` is within `tolerance` of `expected`.
pub fn close(actual: f64, expected: f64, tolerance: Tolerance) -> bool {
    actual.is_finite()
        && (actual - expected).abs() <= tolerance.abs + tolerance.rel * expected.abs()
}

/// A scalar within `tolerance` of the reference.
#[track_caller]
pub fn assert_scalar(context: &str, actual: f32, expected: f64, tolerance: Tolerance) {
    assert!(
        close(f64::from(actual), expected, tolerance),
        "{context}: got {actual:e}, expected {expected:e} (rel {:e}, abs {:e})",
        tolerance.rel,
        tolerance.abs
    );
}

/// Every element within `tolerance` of the reference, which has the same
/// shape.
#[track_caller]
pub fn assert_tensor<D: Dimension>(
    context: &str,
    actual: &ArrayView<'_, f32, D>,
    expected: &ArrayView<'_, f32, D>,
    tolerance: Tolerance,
) {
    assert_eq!(actual.shape(), expected.shape(), "{context}: shape");
    for ((position, &a), &e) in actual.indexed_iter().zip(expected.iter()) {
        assert!(
            close(f64::from(a), f64::from(e), tolerance),
            "{context} at {position:?}: got {a:e}, expected {e:e} (rel {:e}, abs {:e})",
            tolerance.rel,
            tolerance.abs
        );
    }
}

/// The largest `|actual − expected| / (abs + rel·|expected|)` over the
/// elements: how much of the tolerance was used (at most 1 to pass).
pub fn used<D: Dimension>(
    actual: &ArrayView<'_, f32, D>,
    expected: &ArrayView<'_, f32, D>,
    tolerance: Tolerance,
) -> f64 {
    actual
        .iter()
        .zip(expected.iter())
        .map(|(&a, &e)| {
            let (a, e) = (f64::from(a), f64::from(e));
            (a - e).abs() / (tolerance.abs + tolerance.rel * e.abs())
        })
        .fold(0.0, f64::max)
}
