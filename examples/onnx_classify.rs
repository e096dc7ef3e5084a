//! A scikit-learn classifier, exported to ONNX, compiled into the binary.
//!
//! `tests/reference/fixtures/onnx/sklearn_digits.onnx` is scikit-learn's
//! `MLPClassifier` (64-32-10, relu) trained on the first 1,437 images of the
//! digits data set and converted with `skl2onnx`. `#[onnx(..)]` reads it when
//! this example compiles; the binary holds its weights and a straight-line
//! forward pass, and classifies the 360 held-out images of
//! `tests/data/digits.csv`:
//!
//! ```text
//! cargo run --example onnx_classify --features onnx
//! ```

use staticflow::graph;
use staticflow::ndarray::Array2;

graph! {
    /// scikit-learn's digits classifier, imported from ONNX.
    #[onnx("tests/reference/fixtures/onnx/sklearn_digits.onnx")]
    struct Digits {
        // The file's own outputs are `label` and `probabilities`; a graph
        // body may add more, using the model's names.
        output confidence = max(probabilities, axis = 1);
    }
}

const DIGITS_CSV: &str = include_str!("../tests/data/digits.csv");
/// The held-out images: the last 360 rows, as `tests/reference/sklearn_digits.py` splits.
const TEST_ROWS: usize = 360;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: Vec<&str> = DIGITS_CSV.lines().skip(1).collect();
    let test = &rows[rows.len() - TEST_ROWS..];
    let mut pixels = Array2::<f32>::zeros((TEST_ROWS, 64));
    let mut truth = Vec::with_capacity(TEST_ROWS);
    for (i, line) in test.iter().enumerate() {
        let mut fields = line.split(',');
        truth.push(fields.next().ok_or("an empty line")?.parse::<usize>()?);
        for (j, field) in fields.enumerate() {
            // The model was trained on pixels scaled from 0..16 to 0..1.
            pixels[[i, j]] = field.parse::<f32>()? / 16.0;
        }
    }
    let out = Digits::new().run(&pixels)?;
    let correct = out.label.iter().zip(&truth).filter(|(p, t)| p == t).count();
    println!(
        "accuracy on the {TEST_ROWS} held-out digits: {correct}/{TEST_ROWS} ({:.1}%)",
        100.0 * correct as f64 / TEST_ROWS as f64
    );
    for (i, label) in truth.iter().enumerate().take(5) {
        println!(
            "image {i}: predicted {} (confidence {:.3}), labelled {label}",
            out.label[i], out.confidence[i]
        );
    }
    println!("\n{}", Digits::SUMMARY);
    Ok(())
}
