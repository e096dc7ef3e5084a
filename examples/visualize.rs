//! Draws a graph: writes the Graphviz DOT text of the digits MLP (8×8 images
//! flattened to 64 pixels, a hidden layer of 32 units, 10 classes) to a file
//! and prints its summary: parameters, FLOPs and peak workspace per call as
//! formulas in the batch size `n`.
//!
//! ```sh
//! cargo run --example visualize                 # writes target/mlp.dot
//! dot -Tsvg target/mlp.dot -o docs/images/mlp.svg
//! ```
//!
//! The first argument, if any, is the path to write instead.

use std::path::PathBuf;

use staticflow::graph;

graph! {
    /// The digits classifier: 64 pixels → 32 hidden units → 10 classes.
    pub struct DigitsMlp {
        input x: [n, 64];
        var w1: [64, 32];
        var b1: [32];
        var w2: [32, 10];
        var b2: [10];
        let hidden = relu(matmul(x, w1) + b1);
        let logits = matmul(hidden, w2) + b2;
        output probabilities = softmax(logits);
    }
}

fn main() -> std::io::Result<()> {
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("target/mlp.dot"), PathBuf::from);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, DigitsMlp::DOT)?;
    println!("wrote {}", path.display());
    println!("render it with: dot -Tsvg {} -o mlp.svg", path.display());
    println!();
    let summary = DigitsMlp::SUMMARY;
    println!("{summary}");
    let batch = [("n", 32)];
    if let (Ok(flops), Ok(bytes)) = (
        summary.run.flops.evaluate(&batch),
        summary.run.workspace.evaluate(&batch),
    ) {
        println!();
        println!("for a batch of 32: {flops} FLOPs, {bytes} bytes of workspace");
    }
    Ok(())
}
