//! Weights of an MLP trained by scikit-learn on the digits data
//! (`tests/reference/sklearn_digits.py`) reproduce scikit-learn's predicted
//! classes on the 360 test rows, loaded at run time and baked in at build time.

use std::path::PathBuf;

use staticflow::graph;
use staticflow::ndarray::Array2;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The last 360 rows of the digits data, pixels scaled by 1/16.
fn test_rows() -> Array2<f32> {
    let csv =
        std::fs::read_to_string(repo("tests/data/digits.csv")).expect("digits.csv is committed");
    let rows: Vec<Vec<f32>> = csv
        .lines()
        .skip(1)
        .map(|line| {
            line.split(',')
                .skip(1)
                .map(|p| p.parse::<f32>().expect("a pixel") / 16.0)
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 1797);
    let held_out = &rows[1437..];
    Array2::from_shape_fn((held_out.len(), 64), |(i, j)| held_out[i][j])
}

/// scikit-learn's predictions, from the fixture's `"predicted": [..]`.
fn sklearn_predictions() -> Vec<usize> {
    let json = std::fs::read_to_string(repo("tests/reference/fixtures/sklearn/predictions.json"))
        .expect("predictions.json is committed");
    let start = json.find("\"predicted\": [").expect("predicted list") + "\"predicted\": [".len();
    let end = start + json[start..].find(']').expect("end of list");
    json[start..end]
        .split(',')
        .map(|v| v.trim().parse().expect("a class"))
        .collect()
}

graph! {
    /// The scikit-learn MLP, its weights loaded at run time.
    struct Loaded {
        input x: [n, 64];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        output class = argmax(matmul(relu(matmul(x, w1) + b1), w2) + b2);
    }
}

graph! {
    /// The same MLP with its weights baked into the binary at build time.
    #[weights("tests/reference/fixtures/sklearn/digits_mlp.safetensors")]
    struct Baked {
        input x: [n, 64];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        output class = argmax(matmul(relu(matmul(x, w1) + b1), w2) + b2);
    }
}

#[test]
fn weights_loaded_at_run_time_reproduce_sklearn() {
    let model = Loaded::from_safetensors(repo(
        "tests/reference/fixtures/sklearn/digits_mlp.safetensors",
    ))
    .unwrap();
    let classes = model.class(test_rows().view()).unwrap();
    assert_eq!(classes.to_vec(), sklearn_predictions());
}

#[test]
fn weights_baked_at_build_time_reproduce_sklearn() {
    let classes = Baked::new().class(test_rows().view()).unwrap();
    assert_eq!(classes.to_vec(), sklearn_predictions());
}

#[test]
fn saved_weights_load_back_identically() {
    let model = Loaded::from_safetensors(repo(
        "tests/reference/fixtures/sklearn/digits_mlp.safetensors",
    ))
    .unwrap();
    let bytes = model.to_safetensors_bytes();
    let again = Loaded::from_weights(
        staticflow::weights::Weights::from_safetensors_bytes(bytes).unwrap(),
        true,
    )
    .unwrap();
    assert_eq!(again.w1(), model.w1());
    assert_eq!(again.b2(), model.b2());
}

graph! {
    /// The scikit-learn MLP's logits, for comparing batch sizes.
    struct Logits {
        input x: [n, 64];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        output logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
    }
}

/// The logits of `x` in `f64`, summed in plain order: a reference that
/// shares no code with the kernels.
fn logits_f64(model: &Logits, x: &Array2<f32>) -> Array2<f64> {
    let (w1, b1, w2, b2) = (model.w1(), model.b1(), model.w2(), model.b2());
    Array2::from_shape_fn((x.nrows(), 10), |(i, c)| {
        let mut logit = f64::from(b2[c]);
        for h in 0..32 {
            let mut z = f64::from(b1[h]);
            for p in 0..64 {
                z += f64::from(x[[i, p]]) * f64::from(w1[[p, h]]);
            }
            logit += z.max(0.0) * f64::from(w2[[h, c]]);
        }
        logit
    })
}

/// `docs/LANGUAGE.md`, *Batch size, paths and the last bits*: a row's
/// result can differ in the last bits with the batch it is computed in (the
/// matrix kernel's tiles, and so its summation order, follow the number of
/// rows), but every batch size stays within the documented bound of the
/// exact value, `1e-5 · (1 + |exact|)`, and so within twice that of each
/// other. Classes agree wherever no two logits are that close.
#[test]
fn batch_1_and_batch_360_agree_within_the_documented_bound() {
    let model = Logits::from_safetensors(repo(
        "tests/reference/fixtures/sklearn/digits_mlp.safetensors",
    ))
    .unwrap();
    let x = test_rows();
    let exact = logits_f64(&model, &x);
    let batched = model.logits(x.view()).unwrap();
    for i in 0..x.nrows() {
        let single = model
            .logits(x.slice(staticflow::ndarray::s![i..=i, ..]))
            .unwrap();
        for c in 0..10 {
            let bound = 1e-5 * (1.0 + exact[[i, c]].abs());
            let one = f64::from(single[[0, c]]);
            let many = f64::from(batched[[i, c]]);
            assert!(
                (one - exact[[i, c]]).abs() <= bound,
                "row {i} class {c}: batch 1 gives {one}, exactly {}",
                exact[[i, c]]
            );
            assert!(
                (many - exact[[i, c]]).abs() <= bound,
                "row {i} class {c}: batch 360 gives {many}, exactly {}",
                exact[[i, c]]
            );
        }
    }
}
