//! The DOT text `graph!` emits, read back with a small DOT parser: every
//! node and edge of a known graph appears with its shape and label, and
//! Graphviz renders it when it is installed.

use std::collections::HashMap;
use std::process::{Command, Stdio};

use staticflow::graph;

/// The example drawing the digits MLP, whose picture the README shows.
#[allow(dead_code)]
#[path = "../examples/visualize.rs"]
mod visualize;

graph! {
    /// A little of everything: an input, a variable, a constant, a named
    /// binding, two outputs, an update and a dead binding (on purpose, so
    /// the unused-declaration warning is allowed).
    #[allow(unused)]
    struct Known {
        input x: [n, 3];
        var w: [3, 2];
        const k = 0.5;
        let h = matmul(x, w);
        let unused = exp(x);
        output y = softmax(h);
        output total = sum(h, axis = 1);
        w = w * k;
    }
}

/// One statement of a DOT graph, as far as these tests need.
#[derive(Debug, Default)]
struct Dot {
    name: String,
    /// Node id → attributes, in order of appearance.
    nodes: Vec<(String, HashMap<String, String>)>,
    /// (from, to, attributes).
    edges: Vec<(String, String, HashMap<String, String>)>,
}

#[derive(Debug, PartialEq, Clone)]
enum Token {
    /// A bare or quoted identifier, unescaped.
    Id(String),
    Arrow,
    Punct(char),
}

/// Splits DOT text into tokens: identifiers (bare, numeric or quoted, with
/// `\"` and `\\` unescaped and `\n` kept as a line break), `->`, and the
/// punctuation `{ } [ ] = ; ,`.
fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '{' | '}' | '[' | ']' | '=' | ';' | ',' => tokens.push(Token::Punct(c)),
            '-' if chars.peek() == Some(&'>') => {
                chars.next();
                tokens.push(Token::Arrow);
            }
            '"' => {
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some(escaped @ ('"' | '\\')) => value.push(escaped),
                            Some(other) => panic!("unexpected escape \\{other} in {text}"),
                            None => panic!("unterminated escape in {text}"),
                        },
                        Some(other) => value.push(other),
                        None => panic!("unterminated string in {text}"),
                    }
                }
                tokens.push(Token::Id(value));
            }
            c if c.is_alphanumeric() || c == '_' || c == '-' || c == '.' || c == '#' => {
                let mut value = c.to_string();
                while let Some(&next) = chars.peek() {
                    if next.is_alphanumeric() || next == '_' || next == '.' {
                        value.push(next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Id(value));
            }
            other => panic!("unexpected character {other:?} in DOT text"),
        }
    }
    tokens
}

/// Parses `digraph name { statements }` where a statement is a node
/// (`id [attributes];`), an edge (`a -> b [attributes];`) or defaults
/// (`graph|node|edge [attributes];`).
fn parse(text: &str) -> Dot {
    let tokens = tokenize(text);
    let mut at = 0;
    let mut next = || {
        let token = tokens.get(at).cloned();
        at += 1;
        token
    };
    assert_eq!(next(), Some(Token::Id("digraph".into())));
    let Some(Token::Id(name)) = next() else {
        panic!("a graph name")
    };
    assert_eq!(next(), Some(Token::Punct('{')));
    let mut dot = Dot {
        name,
        ..Dot::default()
    };
    loop {
        let first = match next() {
            Some(Token::Punct('}')) => break,
            Some(Token::Id(id)) => id,
            other => panic!("a statement, not {other:?}"),
        };
        let mut token = next();
        let mut target = None;
        if token == Some(Token::Arrow) {
            let Some(Token::Id(to)) = next() else {
                panic!("an edge target")
            };
            target = Some(to);
            token = next();
        }
        let mut attributes = HashMap::new();
        if token == Some(Token::Punct('[')) {
            loop {
                let key = match next() {
                    Some(Token::Punct(']')) => break,
                    Some(Token::Punct(',' | ';')) => continue,
                    Some(Token::Id(key)) => key,
                    other => panic!("an attribute, not {other:?}"),
                };
                assert_eq!(next(), Some(Token::Punct('=')), "after {key}");
                let Some(Token::Id(value)) = next() else {
                    panic!("a value for {key}")
                };
                attributes.insert(key, value);
            }
            token = next();
        }
        assert_eq!(token, Some(Token::Punct(';')), "statements end with `;`");
        match (first.as_str(), target) {
            (_, Some(to)) => dot.edges.push((first, to, attributes)),
            ("graph" | "node" | "edge", None) => {}
            (_, None) => dot.nodes.push((first, attributes)),
        }
    }
    assert_eq!(next(), None, "nothing after the graph");
    dot
}

impl Dot {
    /// The id and attributes of the one node with this label.
    fn node(&self, label: &str) -> (&str, &HashMap<String, String>) {
        let found: Vec<_> = self
            .nodes
            .iter()
            .filter(|(_, attributes)| attributes.get("label").map(String::as_str) == Some(label))
            .collect();
        assert_eq!(found.len(), 1, "one node labelled {label:?} in {self:#?}");
        (&found[0].0, &found[0].1)
    }

    fn label(&self, id: &str) -> &str {
        self.nodes
            .iter()
            .find(|(node, _)| node == id)
            .and_then(|(_, attributes)| attributes.get("label"))
            .unwrap_or_else(|| panic!("node {id} is declared with a label"))
    }

    /// Every edge as (from label, to label, edge label).
    fn edge_labels(&self) -> Vec<(&str, &str, &str)> {
        self.edges
            .iter()
            .map(|(from, to, attributes)| {
                (
                    self.label(from),
                    self.label(to),
                    attributes.get("label").map_or("", String::as_str),
                )
            })
            .collect()
    }
}

/// The node kinds and edges every DOT text of `Known` has.
fn check_common(dot: &Dot) {
    assert_eq!(dot.name, "Known");
    let kinds = [
        ("x\n[n, 3]", "invhouse"),
        ("w\n[3, 2]", "cylinder"),
        ("k = 0.5", "note"),
        ("h\nmatmul", "box"),
        ("y\nsoftmax(axis=-1)", "box"),
        ("total\nsum(axis=1)", "box"),
        ("y", "ellipse"),
        ("total", "ellipse"),
        ("w ←", "cylinder"),
    ];
    for (label, shape) in kinds {
        let (_, attributes) = dot.node(label);
        assert_eq!(attributes["shape"], shape, "{label}");
    }
    assert!(dot.node("h\nmatmul").1["style"].contains("rounded"));
    assert_eq!(dot.node("y").1["peripheries"], "2");
    assert_eq!(dot.node("total").1["peripheries"], "2");
    let edges = dot.edge_labels();
    for expected in [
        ("x\n[n, 3]", "h\nmatmul", "[n, 3]"),
        ("w\n[3, 2]", "h\nmatmul", "[3, 2]"),
        ("h\nmatmul", "y\nsoftmax(axis=-1)", "[n, 2]"),
        ("h\nmatmul", "total\nsum(axis=1)", "[n, 2]"),
        ("y\nsoftmax(axis=-1)", "y", "[n, 2]"),
        ("total\nsum(axis=1)", "total", "[n]"),
        ("w\n[3, 2]", "mul", "[3, 2]"),
        ("k = 0.5", "mul", "[]"),
        ("mul", "w ←", "[3, 2]"),
        ("w ←", "w\n[3, 2]", ""),
    ] {
        assert!(edges.contains(&expected), "{expected:?} in {edges:#?}");
    }
    // Every edge joins declared nodes.
    let ids: Vec<&str> = dot.nodes.iter().map(|(id, _)| id.as_str()).collect();
    for (from, to, _) in &dot.edges {
        assert!(ids.contains(&from.as_str()) && ids.contains(&to.as_str()));
    }
}

#[test]
fn the_graph_as_written_has_every_node_and_edge() {
    let dot = parse(Known::DOT_AS_WRITTEN);
    check_common(&dot);
    // The dead binding is drawn as written.
    let (_, unused) = dot.node("unused\nexp");
    assert_eq!(unused["shape"], "box");
    assert!(dot
        .edge_labels()
        .contains(&("x\n[n, 3]", "unused\nexp", "[n, 3]")));
    // 8 nodes, 2 output markers, 1 update marker; 7 operand edges, 2 to
    // the outputs, 2 for the update (its value in, the variable out).
    assert_eq!(dot.nodes.len(), 11, "{dot:#?}");
    assert_eq!(dot.edges.len(), 11, "{dot:#?}");
}

#[test]
fn the_optimized_graph_drops_what_no_output_needs() {
    let dot = parse(Known::DOT);
    check_common(&dot);
    assert!(
        dot.nodes
            .iter()
            .all(|(_, attributes)| attributes["label"] != "unused\nexp"),
        "{dot:#?}"
    );
    assert_eq!(dot.nodes.len(), 10, "{dot:#?}");
    assert_eq!(dot.edges.len(), 10, "{dot:#?}");
}

#[test]
fn graphviz_renders_both_texts() {
    let Ok(version) = Command::new("dot").arg("-V").output() else {
        println!("skipped: graphviz not installed (no `dot` on PATH)");
        return;
    };
    assert!(version.status.success(), "dot -V failed");
    for text in [Known::DOT, Known::DOT_AS_WRITTEN] {
        let mut child = Command::new("dot")
            .arg("-Tsvg")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dot starts");
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().expect("piped stdin");
            stdin
                .write_all(text.as_bytes())
                .expect("dot reads its input");
        }
        let output = child.wait_with_output().expect("dot finishes");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "dot -Tsvg failed: {stderr}\n{text}"
        );
        assert!(stderr.trim().is_empty(), "dot warned: {stderr}");
        let svg = String::from_utf8_lossy(&output.stdout);
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.contains("softmax(axis=&#45;1)"), "{svg}");
    }
}

/// The text of every `<text>` element of an SVG, XML entities decoded.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|element| {
            let start = element.find('>')? + 1;
            let end = element.find("</text>")?;
            Some(
                element[start..end]
                    .replace("&#45;", "-")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&amp;", "&"),
            )
        })
        .collect()
}

#[test]
fn the_committed_picture_is_the_example_graph() {
    let svg = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/images/mlp.svg"))
        .expect("docs/images/mlp.svg is committed");
    let dot = parse(visualize::DigitsMlp::DOT);
    let mut expected = vec![dot.name.clone()];
    for (_, attributes) in &dot.nodes {
        expected.extend(attributes["label"].lines().map(String::from));
    }
    for (_, _, attributes) in &dot.edges {
        expected.extend(attributes.get("label").cloned());
    }
    let mut actual = svg_texts(&svg);
    expected.sort();
    actual.sort();
    assert_eq!(
        actual, expected,
        "docs/images/mlp.svg is stale: run `cargo run --example visualize` and \
         `dot -Tsvg target/mlp.dot -o docs/images/mlp.svg`"
    );
}
