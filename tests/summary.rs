//! `Name::SUMMARY` against costs computed by hand.

use staticflow::graph;

/// The example printing the digits MLP's summary, which the README shows.
#[allow(dead_code)]
#[path = "../examples/visualize.rs"]
mod visualize;

graph! {
    /// Costs chosen so that the peak workspace moves with the batch size.
    struct Costed {
        input x: [n, 4];
        var w: [4, 8];
        const half = 0.5;
        let h = matmul(x, w);
        let s = softmax(h);
        let column_sums = sum(s, axis = 0);
        output total = column_sums * half;
        output gram = matmul(transpose(w), w);
        w = w * half;
    }
}

// FLOPs per run, by the conventions of `staticflow::summary`:
//   h            matmul [n, 4] × [4, 8]: 2·4 per element of [n, 8]   64·n
//   s            softmax: 5 per element of [n, 8]                    40·n
//   column_sums  sum: 1 per element of [n, 8]                         8·n
//   total        mul: 1 per element of [8]                            8
//   transpose    data movement                                        0
//   gram         matmul [8, 4] × [4, 8]: 2·4 per element of [8, 8]  512
//                                                          112·n + 520
//
// Bytes live at each step of `run` (f32: 4 bytes per element):
//   h            h                          32·n
//   s            h, s                       64·n
//   column_sums  s, column_sums             32·n + 32
//   total        column_sums, total         64
//   transpose    total, transpose [8, 4]    32 + 128 = 160
//   gram         total, transpose, gram     32 + 128 + 256 = 416
// The peak is max(64·n, 416): every other step is below one of these or
// below a mix of the two (32·n + 32 ≤ ½·64·n + ½·416).

#[test]
fn parameters_and_constants_are_counted_apart() {
    let summary = Costed::SUMMARY;
    assert_eq!(summary.name, "Costed");
    assert_eq!(summary.symbols, ["n"]);
    let parameters = summary.parameters;
    assert_eq!(
        (parameters.tensors, parameters.elements, parameters.bytes),
        (1, 32, 128)
    );
    let constants = summary.constants;
    assert_eq!(
        (constants.tensors, constants.elements, constants.bytes),
        (1, 1, 4)
    );
}

#[test]
fn flops_are_a_polynomial_in_the_batch_size() {
    let flops = Costed::SUMMARY.run.flops;
    assert_eq!(flops.to_string(), "112·n + 520");
    assert_eq!(flops.evaluate(&[("n", 0)]), Ok(520));
    assert_eq!(flops.evaluate(&[("n", 32)]), Ok(112 * 32 + 520));
    let unbound = flops.evaluate(&[]).unwrap_err();
    assert_eq!(
        unbound.to_string(),
        "the symbolic dim `n` was given no size"
    );
}

#[test]
fn the_peak_workspace_depends_on_the_batch_size() {
    let workspace = Costed::SUMMARY.run.workspace;
    assert_eq!(workspace.to_string(), "max(64·n, 416)");
    assert_eq!(workspace.evaluate(&[("n", 1)]), Ok(416));
    assert_eq!(workspace.evaluate(&[("n", 6)]), Ok(416));
    assert_eq!(workspace.evaluate(&[("n", 7)]), Ok(448));
    assert_eq!(workspace.evaluate(&[("n", 100)]), Ok(6400));
}

#[test]
fn the_update_is_costed_on_its_own() {
    let update = Costed::SUMMARY.update.expect("Costed updates `w`");
    // w * half: 32 elements, 1 operation and 4 bytes each.
    assert_eq!(update.flops.to_string(), "32");
    assert_eq!(update.workspace.to_string(), "128");
}

#[test]
fn every_node_has_a_row() {
    let summary = Costed::SUMMARY;
    let rows: Vec<(Option<&str>, &str, String)> = summary
        .nodes
        .iter()
        .map(|node| (node.name, node.op, node.flops.to_string()))
        .collect();
    for expected in [
        (Some("x"), "input", "0"),
        (Some("w"), "var", "0"),
        (Some("half"), "const", "0"),
        (Some("h"), "matmul", "64·n"),
        (Some("s"), "softmax", "40·n"),
        (Some("column_sums"), "sum", "8·n"),
        (Some("total"), "mul", "8"),
        (None, "transpose", "0"),
        (Some("gram"), "matmul", "512"),
        (None, "mul", "32"),
    ] {
        let expected = (expected.0, expected.1, expected.2.to_string());
        assert!(rows.contains(&expected), "{expected:?} in {rows:?}");
    }
    let w = summary.nodes.iter().find(|node| node.name == Some("w"));
    assert_eq!(w.map(|node| node.params), Some(32));
    let text = summary.to_string();
    for line in [
        "Costed",
        "column_sums  sum        [8]",
        "parameters            32 in 1 tensor (128 bytes)",
        "FLOPs per run         112·n + 520",
        "workspace per run     max(64·n, 416) bytes at peak",
        "FLOPs per update      32",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
}

#[test]
fn the_readme_shows_the_example_summary() {
    let readme = include_str!("../README.md");
    let summary = visualize::DigitsMlp::SUMMARY.to_string();
    assert!(
        readme.contains(&summary),
        "the README's summary of the digits MLP is stale; \
         `cargo run --example visualize` prints:\n{summary}"
    );
    // 2·64·32 + 32 + 32 (bias, relu) per row, then 2·32·10 + 10, then 5·10.
    let flops = visualize::DigitsMlp::SUMMARY.run.flops;
    assert_eq!(flops.evaluate(&[("n", 1)]), Ok(4096 + 64 + 640 + 10 + 50));
    assert_eq!(
        visualize::DigitsMlp::SUMMARY.parameters.elements,
        64 * 32 + 32 + 32 * 10 + 10
    );
}
