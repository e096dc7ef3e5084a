//! The firmware crate, linked into a host test: on the 360 held-out digits
//! it predicts exactly the classes of the std (ndarray) path, with the same
//! weights loaded at run time, and exactly scikit-learn's.

use std::path::PathBuf;

use staticflow::graph;
use staticflow::ndarray::Array2;
use staticflow_embedded::{classify, Digits, DigitsWorkspace, MODEL};

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The last 360 rows of the digits data, pixels scaled by 1/16.
fn test_rows() -> Vec<[f32; 64]> {
    let csv =
        std::fs::read_to_string(repo("tests/data/digits.csv")).expect("digits.csv is committed");
    let rows: Vec<[f32; 64]> = csv
        .lines()
        .skip(1)
        .map(|line| {
            let pixels: Vec<f32> = line
                .split(',')
                .skip(1)
                .map(|p| p.parse::<f32>().expect("a pixel") / 16.0)
                .collect();
            pixels.try_into().expect("64 pixels")
        })
        .collect();
    assert_eq!(rows.len(), 1797);
    rows[1437..].to_vec()
}

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
    /// The same MLP on the std path: ndarray kernels, weights read at run time.
    struct Host {
        input x: [n, 64];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        output logits = matmul(relu(matmul(x, w1) + b1), w2) + b2;
        output class = argmax(logits);
    }
}

fn host_model() -> Host {
    Host::from_safetensors(repo(
        "tests/reference/fixtures/sklearn/digits_mlp.safetensors",
    ))
    .expect("the committed weights load")
}

#[test]
fn predicts_the_classes_of_the_std_path_and_of_scikit_learn() {
    let rows = test_rows();
    let embedded: Vec<usize> = rows.iter().map(classify).collect();
    let batch = Array2::from_shape_fn((rows.len(), 64), |(i, j)| rows[i][j]);
    let host = host_model().class(batch.view()).unwrap().to_vec();
    assert_eq!(embedded.len(), 360);
    assert_eq!(embedded, host);
    assert_eq!(embedded, sklearn_predictions());
}

#[test]
fn logits_agree_with_the_std_path_to_rounding() {
    let rows = test_rows();
    let host = host_model();
    let mut workspace = DigitsWorkspace::new();
    let mut worst = 0.0_f32;
    for row in &rows {
        let embedded = MODEL.logits_with(&mut workspace, row);
        let x = Array2::from_shape_vec((1, 64), row.to_vec()).unwrap();
        let reference = host.logits(x.view()).unwrap();
        for (a, b) in embedded.iter().zip(reference.iter()) {
            worst = worst.max((a - b).abs() / b.abs().max(1.0));
        }
    }
    assert!(worst < 1e-5, "largest relative difference {worst}");
}

#[test]
fn the_workspace_and_run_agree_with_the_single_outputs() {
    let row = &test_rows()[0];
    let outputs = MODEL.run(row);
    assert_eq!(outputs.logits, MODEL.logits(row));
    assert_eq!(outputs.class, MODEL.class(row));
    // One 32-float slot: the hidden layer, made by one fused dense kernel
    // (product, bias, relu). Outputs are returned by value, in no slot.
    assert_eq!(Digits::WORKSPACE_BYTES, 32 * 4);
    assert_eq!(
        Digits::WORKSPACE_BYTES,
        std::mem::size_of::<DigitsWorkspace>()
    );
}
