//! Shared by the kernel conformance tests: loads the numpy fixtures that
//! `tests/reference/kernels.py` writes, feeds them to kernels in several
//! memory layouts, and compares results with one [`assert_close`].
//!
//! A fixture file holds `{"cases": [...]}`; each case names its `op`, a
//! human-readable `name`, its operands and its expected `out`. Tensors are
//! `{"shape": [...], "data": [...]}` in row-major order, with the strings
//! `"nan"`, `"inf"` and `"-inf"` standing for non-finite floats.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use graph_runtime::Error;
use ndarray::{ArrayD, ArrayView, ArrayViewD, Dimension, IxDyn};
use serde_json::Value;

/// How far a result may stray from the float64 reference (rounded to f32):
/// `|actual − expected| ≤ abs + rel·|expected|`. NaN must meet NaN and an
/// infinity the same infinity.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    /// Relative part, scaled by the expected magnitude.
    pub rel: f64,
    /// Absolute floor, for results near zero.
    pub abs: f64,
}

/// Data movement copies values: bit-for-bit.
pub const EXACT: Tolerance = Tolerance { rel: 0.0, abs: 0.0 };

/// A few roundings of f32 arithmetic per element (elementwise maps,
/// f64-accumulated reductions, softmax, norms, losses).
pub const ELEMENTWISE: Tolerance = Tolerance {
    rel: 1e-5,
    abs: 1e-6,
};

/// Sums of f32 products (matrix products, convolutions), whose rounding
/// grows with the number of terms and cancels near zero.
pub const ACCUMULATED: Tolerance = Tolerance {
    rel: 1e-4,
    abs: 1e-5,
};

/// The special functions evaluated in f64 (`erf_f64`, `erfc_f64`) against
/// Python's `math.erf`: the brief asks for 1e-7; they do far better.
pub const SPECIAL_F64: Tolerance = Tolerance {
    rel: 1e-12,
    abs: 1e-14,
};

/// One fixture case.
pub struct Case {
    family: &'static str,
    value: Value,
}

impl Case {
    /// `family/op: name`, for failure messages.
    pub fn label(&self) -> String {
        format!("{}/{}: {}", self.family, self.text("op"), self.text("name"))
    }

    /// Whether the case has `key`.
    pub fn has(&self, key: &str) -> bool {
        self.value.get(key).is_some()
    }

    /// The raw JSON at `key`.
    pub fn get(&self, key: &str) -> &Value {
        self.value
            .get(key)
            .unwrap_or_else(|| panic!("{}: no `{key}`", self.label_raw()))
    }

    /// A float tensor.
    pub fn f32s(&self, key: &str) -> ArrayD<f32> {
        tensor(self.get(key), single)
    }

    /// An index tensor.
    pub fn usizes(&self, key: &str) -> ArrayD<usize> {
        tensor(self.get(key), index)
    }

    /// A boolean tensor.
    pub fn bools(&self, key: &str) -> ArrayD<bool> {
        tensor(self.get(key), |v| v.as_bool().expect("a boolean"))
    }

    /// A list of tensors.
    pub fn f32_list(&self, key: &str) -> Vec<ArrayD<f32>> {
        let list = self.get(key).as_array().expect("a list of tensors");
        list.iter().map(|t| tensor(t, single)).collect()
    }

    /// A scalar float parameter.
    pub fn scalar(&self, key: &str) -> f32 {
        single(self.get(key))
    }

    /// A non-negative integer parameter.
    pub fn index(&self, key: &str) -> usize {
        index(self.get(key))
    }

    /// A list of non-negative integers (axes, shapes, strides).
    pub fn indices(&self, key: &str) -> Vec<usize> {
        self.get(key)
            .as_array()
            .expect("a list")
            .iter()
            .map(index)
            .collect()
    }

    /// A list of floats, kept in f64.
    pub fn f64s(&self, key: &str) -> Vec<f64> {
        self.get(key)
            .as_array()
            .expect("a list")
            .iter()
            .map(float)
            .collect()
    }

    /// A boolean parameter.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).as_bool().expect("a boolean")
    }

    /// A string parameter.
    pub fn text(&self, key: &str) -> &str {
        self.get(key).as_str().expect("a string")
    }

    /// The [`Error::IndexOutOfRange`] that the case's `error` entry
    /// describes, for a tensor the kernel was told is called `tensor`.
    pub fn index_error(&self, tensor: &'static str) -> Error {
        let error = self.get("error");
        Error::IndexOutOfRange {
            tensor,
            index: index(&error["index"]),
            position: error["position"]
                .as_array()
                .expect("a position")
                .iter()
                .map(index)
                .collect(),
            bound: index(&error["bound"]),
        }
    }

    fn label_raw(&self) -> String {
        format!("{}/{}", self.family, self.value)
    }
}

/// The cases of `op` in `fixtures/kernels/<family>.json`; panics if there are
/// none, so a renamed op cannot silently go untested.
pub fn cases(family: &'static str, op: &str) -> Vec<Case> {
    let found: Vec<Case> = all_cases(family)
        .into_iter()
        .filter(|case| case.text("op") == op)
        .collect();
    assert!(!found.is_empty(), "{family}.json has no `{op}` cases");
    found
}

/// Asserts that the ops in `family`'s fixture file are exactly `tested`, so
/// every fixture case is exercised and every tested op has fixtures.
pub fn assert_ops_covered(family: &'static str, tested: &[&str]) {
    let in_file: BTreeSet<String> = all_cases(family)
        .iter()
        .map(|case| case.text("op").to_owned())
        .collect();
    let tested: BTreeSet<String> = tested.iter().map(|&op| op.to_owned()).collect();
    assert_eq!(
        in_file, tested,
        "ops in {family}.json vs ops this test file checks"
    );
}

fn all_cases(family: &'static str) -> Vec<Case> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/reference/fixtures/kernels")
        .join(format!("{family}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
    let root: Value = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("parsing {}: {err}", path.display()));
    let Some(Value::Array(cases)) = root.get("cases").cloned() else {
        panic!("{}: no `cases` list", path.display())
    };
    cases
        .into_iter()
        .map(|value| Case { family, value })
        .collect()
}

fn tensor<T>(value: &Value, element: impl Fn(&Value) -> T) -> ArrayD<T> {
    let shape: Vec<usize> = value["shape"]
        .as_array()
        .expect("a shape")
        .iter()
        .map(index)
        .collect();
    let data: Vec<T> = value["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(element)
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape), data).expect("data matching the shape")
}

fn float(value: &Value) -> f64 {
    match value {
        Value::Number(n) => n.as_f64().expect("a float"),
        Value::String(s) if s == "nan" => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        other => panic!("not a float: {other}"),
    }
}

/// A fixture float as f32. Inputs are stored as the exact f64 value of an
/// f32, and references as f32-rounded values, so the cast is exact.
#[allow(clippy::cast_possible_truncation)]
fn single(value: &Value) -> f32 {
    float(value) as f32
}

fn index(value: &Value) -> usize {
    let n = value.as_u64().expect("a non-negative integer");
    usize::try_from(n).expect("an index that fits usize")
}

/// `x` in each memory layout kernels must handle: row-major, and
/// column-major (whose views are transposed-like, not contiguous in row-major
/// order). The logical contents are the same.
pub fn layouts<T: Clone>(x: &ArrayD<T>) -> [(&'static str, ArrayD<T>); 2] {
    let column_major = x.t().as_standard_layout().into_owned().reversed_axes();
    [("row-major", x.clone()), ("column-major", column_major)]
}

/// `x` viewed with the fixed rank `D`.
pub fn fixed<D: Dimension>(x: &ArrayD<f32>) -> ArrayView<'_, f32, D> {
    x.view()
        .into_dimensionality::<D>()
        .expect("fixture of the kernel's rank")
}

/// Compares `actual` with `expected` elementwise within `tolerance`,
/// naming `context` and the first offending position on failure.
#[allow(clippy::needless_pass_by_value)] // Views by value, as the kernels take them.
pub fn assert_close(
    context: &str,
    actual: ArrayViewD<'_, f32>,
    expected: ArrayViewD<'_, f32>,
    tolerance: Tolerance,
) {
    assert_eq!(actual.shape(), expected.shape(), "{context}: shape");
    for ((position, &a), &e) in actual.indexed_iter().zip(expected.iter()) {
        let at = format!("{context} at {:?}", position.slice());
        assert_close_scalar(&at, f64::from(a), f64::from(e), tolerance);
    }
}

/// [`assert_close`] for one value.
pub fn assert_close_scalar(context: &str, actual: f64, expected: f64, tolerance: Tolerance) {
    let ok = if expected.is_nan() {
        actual.is_nan()
    } else if expected.is_infinite() {
        actual == expected
    } else {
        (actual - expected).abs() <= tolerance.abs + tolerance.rel * expected.abs()
    };
    assert!(
        ok,
        "{context}: got {actual:e}, expected {expected:e} (tolerance rel {:e}, abs {:e})",
        tolerance.rel, tolerance.abs
    );
}
