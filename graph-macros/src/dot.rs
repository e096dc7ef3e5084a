//! Graphviz DOT text of a graph IR, for `Name::DOT` (after optimization)
//! and `Name::DOT_AS_WRITTEN` (before).
//!
//! ```text
//! digraph "Mlp" {
//!   n0 [label="x\n[n, 64]", shape=invhouse, ...];        // inputs
//!   n1 [label="w1\n[64, 32]", shape=cylinder, ...];      // variables
//!   n2 [label="0.5", shape=note, ...];                   // constants
//!   n3 [label="matmul", shape=box, style="rounded,filled", ...];
//!   n0 -> n3 [label="[n, 64]"];                          // edges carry shapes
//!   output0 [label="y", shape=ellipse, peripheries=2, ...];
//!   n9 -> output0 [label="[n, 10]"];
//!   update0 [label="w1 ←", shape=cylinder, peripheries=2, ...];
//!   n8 -> update0 [label="[64, 32]"];
//!   update0 -> n1 [style=dashed, constraint=false];
//! }
//! ```
//!
//! Node ids are `n<index>` for graph nodes, `output<k>` and `update<k>` for
//! the markers. Labels name a node after the user (`h`) where it has a name,
//! and show the op with its attributes (`softmax(axis=-1)`). Nodes made by
//! the optimizer show the formula they compute over their operands' names
//! (`dense: relu(matmul(x, w1) + b1)`, `fused: (x * 2) + #1`), `#i` standing
//! for an unnamed operand, whose edge is labelled `#i [shape]`.

use std::fmt::Write as _;

use crate::ir::{DType, DimSpec, Graph, NodeId, Op};
use crate::shape::Shape;

/// The look of each kind of node.
const INPUT_STYLE: &str = "shape=invhouse, style=filled, fillcolor=\"#dbe9f6\"";
const VARIABLE_STYLE: &str = "shape=cylinder, style=filled, fillcolor=\"#fdf0c2\"";
const CONSTANT_STYLE: &str = "shape=note, style=filled, fillcolor=\"#eeeeee\"";
const OP_STYLE: &str = "shape=box, style=\"rounded,filled\", fillcolor=white";
const OUTPUT_STYLE: &str = "shape=ellipse, peripheries=2, style=filled, fillcolor=\"#d5f0d5\"";
const UPDATE_STYLE: &str = "shape=cylinder, peripheries=2, style=filled, fillcolor=\"#fde0b0\"";

/// The graph as DOT text: one statement per line, nodes in the graph's
/// order, each followed by the edges from its operands.
pub fn dot(graph: &Graph) -> String {
    let mut out = String::new();
    let name = quoted(&graph.name.to_string());
    // `write!` to a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(out, "digraph {name} {{");
    let _ = writeln!(
        out,
        "  graph [label={name}, labelloc=t, fontname=\"Helvetica\", ordering=in];"
    );
    out.push_str("  node [fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (index, node) in graph.nodes.iter().enumerate() {
        let id = NodeId(index);
        let style = match node.op {
            Op::Input => INPUT_STYLE,
            Op::Variable => VARIABLE_STYLE,
            Op::Constant(_) => CONSTANT_STYLE,
            Op::Elementwise(_)
            | Op::Reduction(_)
            | Op::Loss(_)
            | Op::Linalg(_)
            | Op::Movement(_)
            | Op::Nn(_)
            | Op::Autodiff(_) => OP_STYLE,
        };
        let label = quoted(&label(graph, id));
        let _ = writeln!(out, "  n{index} [label={label}, {style}];");
        // The formula of a fused node names unnamed operands by position.
        let numbered = node
            .op
            .family()
            .is_some_and(crate::ops::Family::shows_formula);
        for (position, operand) in node.operands.iter().enumerate() {
            let mut label = tensor(graph, *operand);
            if numbered && graph.node(*operand).name.is_none() {
                label = quoted(&format!("#{position} {}", tensor_text(graph, *operand)));
            }
            let _ = writeln!(out, "  n{} -> n{index} [label={label}];", operand.0);
        }
    }
    for (k, output) in graph.outputs.iter().enumerate() {
        let label = quoted(&output.name.to_string());
        let _ = writeln!(out, "  output{k} [label={label}, {OUTPUT_STYLE}];");
        let _ = writeln!(
            out,
            "  n{} -> output{k} [label={}];",
            output.node.0,
            tensor(graph, output.node)
        );
    }
    for (k, update) in graph.updates.iter().enumerate() {
        let variable = graph.node(update.variable);
        let target = variable
            .name
            .as_ref()
            .map_or_else(|| "var".to_string(), ToString::to_string);
        let label = quoted(&format!("{target} ←"));
        let _ = writeln!(out, "  update{k} [label={label}, {UPDATE_STYLE}];");
        let _ = writeln!(
            out,
            "  n{} -> update{k} [label={}];",
            update.value.0,
            tensor(graph, update.value)
        );
        // Back to the variable it replaces, without pulling the layout
        // upwards: the graph stays a top-to-bottom flow.
        let _ = writeln!(
            out,
            "  update{k} -> n{} [style=dashed, constraint=false, arrowhead=empty];",
            update.variable.0
        );
    }
    out.push_str("}\n");
    out
}

/// A DOT quoted string: backslashes and quotes escaped, line breaks as
/// DOT's centred-line escape `\n`.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// The label of an edge carrying node `id`'s value, quoted: its shape, and
/// its element type unless `f32`.
fn tensor(graph: &Graph, id: NodeId) -> String {
    quoted(&tensor_text(graph, id))
}

/// The same, unquoted.
fn tensor_text(graph: &Graph, id: NodeId) -> String {
    let node = graph.node(id);
    let shape = node
        .shape
        .as_ref()
        .map_or_else(|| "?".to_string(), Shape::to_string);
    match node.dtype {
        DType::F32 => shape,
        other => format!("{shape} {}", other.name()),
    }
}

/// A node's label, lines separated by `\n`: the user's name where there is
/// one, then the op and its attributes; leaves show their shape (or a
/// scalar constant its value).
fn label(graph: &Graph, id: NodeId) -> String {
    let node = graph.node(id);
    let name = node.name.as_ref().map(ToString::to_string);
    let shape = node
        .shape
        .as_ref()
        .map_or_else(|| "?".to_string(), Shape::to_string);
    let typed = match node.dtype {
        DType::F32 => shape,
        other => format!("{shape} {}", other.name()),
    };
    match &node.op {
        Op::Input | Op::Variable => {
            let name = name.unwrap_or_else(|| node.op.word().to_string());
            format!("{name}\n{typed}")
        }
        Op::Constant(tensor) => {
            let value = match tensor.values.as_slice() {
                [value] if tensor.shape.is_empty() => value.to_string(),
                _ => typed,
            };
            match name {
                Some(name) if tensor.shape.is_empty() => format!("{name} = {value}"),
                Some(name) => format!("{name}\n{value}"),
                None => value,
            }
        }
        // Ops show their attributes; nodes made by the optimizer, the formula
        // they compute over their operands' names.
        Op::Elementwise(_)
        | Op::Reduction(_)
        | Op::Loss(_)
        | Op::Linalg(_)
        | Op::Movement(_)
        | Op::Nn(_)
        | Op::Autodiff(_) => {
            let word = node.called.unwrap_or_else(|| node.op.word());
            let call = node
                .op
                .family()
                .map(|family| family.label(word, &operand_names(graph, id)))
                .unwrap_or_default();
            match name {
                Some(name) => format!("{name}\n{call}"),
                None => call,
            }
        }
    }
}

/// How a fused node's formula names its operands: by the user's name, or
/// `#i` for the `i`-th operand (whose edge is labelled `#i` too).
fn operand_names(graph: &Graph, id: NodeId) -> Vec<String> {
    graph
        .node(id)
        .operands
        .iter()
        .enumerate()
        .map(|(i, &operand)| {
            graph
                .node(operand)
                .name
                .as_ref()
                .map_or_else(|| format!("#{i}"), ToString::to_string)
        })
        .collect()
}

/// `word(attributes..)`, or `word` alone when there are none.
pub fn call(word: &str, attributes: &[String]) -> String {
    if attributes.is_empty() {
        word.to_string()
    } else {
        format!("{word}({})", attributes.join(", "))
    }
}

/// One axis as `1`, several as `[0, 1]`.
pub fn list(values: &[i64]) -> String {
    match values {
        [one] => one.to_string(),
        many => format!(
            "[{}]",
            many.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A pair of window sizes or strides: `2` when both are equal.
pub fn pair([a, b]: [usize; 2]) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("[{a}, {b}]")
    }
}

/// A target shape as written: `[n, -1]`.
pub fn dims(dims: &[DimSpec]) -> String {
    let text: Vec<String> = dims
        .iter()
        .map(|dim| match dim {
            DimSpec::Fixed(size) => size.to_string(),
            DimSpec::Symbol(symbol) => symbol.clone(),
            DimSpec::Infer => "-1".to_string(),
        })
        .collect();
    format!("[{}]", text.join(", "))
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;
    use crate::expand::build_graph;
    use crate::optimize;

    fn dot_of(tokens: proc_macro2::TokenStream) -> String {
        dot(&build_graph(tokens).expect("test graph is valid"))
    }

    /// The lines of `text` that start with `prefix` (after indentation).
    fn lines<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.lines()
            .map(str::trim)
            .filter(|line| line.starts_with(prefix))
            .collect()
    }

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(quoted("plain"), "\"plain\"");
        assert_eq!(quoted("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(quoted("a\\b"), "\"a\\\\b\"");
        assert_eq!(quoted("two\nlines"), "\"two\\nlines\"");
        // A backslash before a quote stays two escapes, not one.
        assert_eq!(quoted("\\\""), "\"\\\\\\\"\"");
    }

    #[test]
    fn every_kind_of_node_has_its_shape() {
        let text = dot_of(quote! {
            struct Dense {
                input x: [n, 3];
                var w: [3, 2];
                const k = 0.5;
                let h = matmul(x, w);
                output y = h * k;
            }
        });
        assert!(text.starts_with("digraph \"Dense\" {\n"), "{text}");
        assert!(text.ends_with("}\n"), "{text}");
        let nodes = [
            "n0 [label=\"x\\n[n, 3]\", shape=invhouse",
            "n1 [label=\"w\\n[3, 2]\", shape=cylinder",
            "n2 [label=\"k = 0.5\", shape=note",
            "n3 [label=\"h\\nmatmul\", shape=box, style=\"rounded,filled\"",
            "n4 [label=\"y\\nmul\", shape=box",
            "output0 [label=\"y\", shape=ellipse, peripheries=2",
        ];
        for node in nodes {
            assert_eq!(lines(&text, node).len(), 1, "{node} in\n{text}");
        }
        let edges = [
            "n0 -> n3 [label=\"[n, 3]\"];",
            "n1 -> n3 [label=\"[3, 2]\"];",
            "n3 -> n4 [label=\"[n, 2]\"];",
            "n2 -> n4 [label=\"[]\"];",
            "n4 -> output0 [label=\"[n, 2]\"];",
        ];
        assert_eq!(
            lines(&text, "n")
                .iter()
                .filter(|l| l.contains("->"))
                .count(),
            5
        );
        for edge in edges {
            assert_eq!(lines(&text, edge).len(), 1, "{edge} in\n{text}");
        }
    }

    #[test]
    fn ops_show_their_attributes_and_types() {
        let text = dot_of(quote! {
            struct Attributes {
                input x: [n, 4, 4, 2];
                var k: [3, 3, 2, 5];
                let c = conv2d(x, k, strides = [1, 2], padding = same);
                let flat = reshape(c, [n, -1]);
                output s = sum(flat, axis = [0, 1], keep_dims = true);
                output best = argmax(softmax(flat));
                output big = gt(flat, 0.0);
            }
        });
        for label in [
            "label=\"c\\nconv2d(strides=[1, 2], padding=same, dilation=1)\"",
            "label=\"flat\\nreshape(shape=[n, -1])\"",
            "label=\"s\\nsum(axis=[0, 1], keep_dims=true)\"",
            "label=\"softmax(axis=-1)\"",
            "label=\"best\\nargmax(axis=-1)\"",
            "label=\"[n] usize\"",
            "label=\"[n, 40] bool\"",
        ] {
            assert!(text.contains(label), "{label} in\n{text}");
        }
    }

    #[test]
    fn fused_nodes_show_what_they_compute() {
        let tokens = quote! {
            struct Fusable {
                input x: [n, 8];
                var w: [8, 4];
                var b: [4];
                output y = relu(matmul(x, w) + b);
                output z = maximum(-x * 2.0 + 1.0, 0.5);
                output u = x * 2.0 + sum(x, axis = 0);
            }
        };
        let mut graph = build_graph(tokens).expect("test graph is valid");
        optimize::run(&mut graph);
        let text = dot(&graph);
        assert!(
            text.contains("label=\"y\\ndense: relu(matmul(x, w) + b)\""),
            "{text}"
        );
        assert!(
            text.contains("z\\nfused: maximum((-x * 2) + 1, 0.5)"),
            "{text}"
        );
        // An unnamed operand is `#i` in the formula and on its edge.
        assert!(text.contains("u\\nfused: (x * 2) + #1"), "{text}");
        assert!(text.contains("[label=\"#1 [8]\"]"), "{text}");
    }

    #[test]
    fn updates_point_back_at_their_variable() {
        let text = dot_of(quote! {
            struct Counter {
                var count: [];
                count = count + 1.0;
            }
        });
        assert!(
            text.contains("update0 [label=\"count ←\", shape=cylinder, peripheries=2"),
            "{text}"
        );
        assert!(text.contains("n2 -> update0 [label=\"[]\"];"), "{text}");
        assert!(
            text.contains("update0 -> n0 [style=dashed, constraint=false"),
            "{text}"
        );
    }

    #[test]
    fn optimization_shows_in_the_dot_text() {
        let tokens = quote! {
            struct Twice {
                input x: [n];
                let unused = exp(x);
                output y = (x * 2.0) + (x * 2.0);
            }
        };
        let as_written = dot_of(tokens.clone());
        let mut graph = build_graph(tokens).expect("test graph is valid");
        optimize::run(&mut graph);
        let optimized = dot(&graph);
        assert!(as_written.contains("unused\\nexp"), "{as_written}");
        assert!(!optimized.contains("exp"), "{optimized}");
        let count =
            |text: &str, what: &str| lines(text, "n").iter().filter(|l| l.contains(what)).count();
        assert_eq!(count(&as_written, "label=\"mul\""), 2);
        assert_eq!(count(&optimized, "label=\"mul\""), 1);
    }
}
