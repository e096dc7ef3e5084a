//! Phase 4, checks: infers every node's shape and enforces the whole-graph
//! rules that need shapes.
//!
//! Takes the lowered [`Graph`] and fills in `Node::shape`; reports each shape
//! error once, on the node that first goes wrong, and stays quiet about nodes
//! downstream of it. Also checks annotations, variable shapes, updates, and
//! that the generated methods have distinct names.

use std::collections::HashMap;

use crate::diag::{Code, Diagnostics, SpanRange};
use crate::ir::{DType, Graph};
use crate::shape::{self, Dim, Shape};

/// Methods every generated type has; outputs and variable accessors must not
/// take these names.
pub(crate) const RESERVED_METHODS: &[(&str, &str)] = &[
    ("new", "the constructor"),
    ("zeros", "the zero-initialised constructor"),
    ("run", "the method computing every output"),
    ("run_with", "the workspace form of `run`"),
    ("update", "the method applying the variable updates"),
    ("update_with", "the workspace form of `update`"),
    (
        "DOT",
        "the constant holding the optimized graph as DOT text",
    ),
    (
        "DOT_AS_WRITTEN",
        "the constant holding the graph as written as DOT text",
    ),
    ("SUMMARY", "the constant holding the graph's summary"),
    ("WORKSPACE_BYTES", "the constant holding the workspace size"),
    (
        "from_weights",
        "the constructor taking a weight file's tensors",
    ),
    (
        "from_safetensors",
        "the constructor reading a safetensors file",
    ),
    ("from_npy_dir", "the constructor reading `.npy` files"),
    (
        "to_safetensors_bytes",
        "the method serialising the variables",
    ),
    (
        "save_safetensors",
        "the method writing the variables to a file",
    ),
];

pub fn check(graph: &mut Graph, diagnostics: &mut Diagnostics) {
    check_variables(graph, diagnostics);
    infer_shapes(graph, diagnostics);
    check_annotations(graph, diagnostics);
    check_updates(graph, diagnostics);
    check_method_names(graph, diagnostics);
    if graph.outputs.is_empty()
        && graph.updates.is_empty()
        && graph.steps.is_empty()
        && !diagnostics.has_errors()
    {
        diagnostics.push(SpanRange::single(graph.name.span()).error(Code::NoOutputs, format!(
            "graph `{}` has no `output` and no update: declare at least one, e.g. `output y = ...;`",
            graph.name
        )));
    }
}

/// Variables are struct fields of a fixed size: no symbolic dims.
fn check_variables(graph: &Graph, diagnostics: &mut Diagnostics) {
    for &id in &graph.variables {
        let node = graph.node(id);
        let Some(shape) = &node.shape else { continue };
        if let Some(symbol) = shape.symbols().next() {
            let name = node
                .name
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            diagnostics.push(node.span.error(Code::VariableShape, format!(
                "variable `{name}` has the symbolic dim `{symbol}` in {shape}: variables are stored \
                 in the graph's struct and need a fixed shape"
            )));
        }
    }
}

/// The most bytes one array can take: Rust's allocations and ndarray's
/// shapes are bounded by `isize::MAX`.
const MAX_ARRAY_BYTES: usize = usize::MAX / 2;

/// Whether an array of this shape and element type can exist: its literal
/// sizes (the non-zero ones, as ndarray counts them) take at most
/// [`MAX_ARRAY_BYTES`]. Symbolic sizes are checked when the graph runs.
fn fits_in_memory(shape: &Shape, dtype: DType) -> bool {
    let element = match dtype {
        DType::F32 => 4,
        DType::Usize => std::mem::size_of::<usize>(),
        DType::Bool => 1,
    };
    shape
        .0
        .iter()
        .try_fold(element, |bytes, dim| match dim {
            Dim::Fixed(0) | Dim::Symbol(_) => Some(bytes),
            Dim::Fixed(size) => bytes.checked_mul(*size),
        })
        .is_some_and(|bytes| bytes <= MAX_ARRAY_BYTES)
}

fn too_large(shape: &Shape, dtype: DType) -> String {
    format!(
        "{shape}: more {} than an array can hold (an array takes at most `isize::MAX` bytes, \
         8 EiB)",
        dtype.name()
    )
}

fn infer_shapes(graph: &mut Graph, diagnostics: &mut Diagnostics) {
    for index in 0..graph.nodes.len() {
        let node = &graph.nodes[index];
        if node.op.is_leaf() {
            // A declared shape too large for any array is reported once, here,
            // and leaves the nodes using it without a shape.
            if let Some(shape) = node
                .shape
                .as_ref()
                .filter(|s| !fits_in_memory(s, node.dtype))
            {
                let name = node
                    .name
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let detail = too_large(shape, node.dtype);
                diagnostics.push(
                    node.span
                        .error(Code::TooLarge, format!("`{name}` is declared {detail}")),
                );
                graph.nodes[index].shape = None;
            }
            // A constant whose literal disagrees with its annotation is
            // wrong at its declaration: reported there, by
            // `check_annotations`, and left without a shape, so that no use
            // of it reports a second error that follows from the first.
            let node = &graph.nodes[index];
            if matches!(node.op, crate::ops::Op::Constant(_))
                && graph.annotations.iter().any(|annotation| {
                    annotation.node.0 == index && node.shape.as_ref() != Some(&annotation.shape)
                })
            {
                graph.nodes[index].shape = None;
            }
            continue;
        }
        let operands: Option<Vec<(&Shape, DType)>> = node
            .operands
            .iter()
            .map(|operand| {
                let operand = &graph.nodes[operand.0];
                operand.shape.as_ref().map(|shape| (shape, operand.dtype))
            })
            .collect();
        // An operand in error was reported where it went wrong.
        let Some(operands) = operands else { continue };
        match shape::infer(&node.op, &operands) {
            Ok((shape, dtype)) if !fits_in_memory(&shape, dtype) => {
                let symbol = node.called.unwrap_or_else(|| node.op.symbol());
                let detail = too_large(&shape, dtype);
                diagnostics.push(node.span.error(
                    Code::TooLarge,
                    format!("`{symbol}` makes a value of shape {detail}"),
                ));
            }
            Ok((shape, dtype)) => {
                graph.nodes[index].shape = Some(shape);
                graph.nodes[index].dtype = dtype;
            }
            Err(error) => {
                let names: Vec<String> = node
                    .operands
                    .iter()
                    .map(|operand| describe(graph, *operand))
                    .collect();
                let symbol = node.called.unwrap_or_else(|| node.op.symbol());
                // An error about an attribute underlines it, as written.
                let span = error
                    .attribute()
                    .and_then(|attribute| {
                        node.attributes
                            .iter()
                            .find(|(name, _)| *name == attribute)
                            .map(|&(_, span)| span)
                    })
                    .unwrap_or(node.span);
                diagnostics.push(span.error(error.code(), error.message(symbol, &names)));
            }
        }
    }
}

/// How messages name an operand, quoted as a message shows it: the user's
/// name (`` `x` ``), or the op that made it (``the result of `matmul` ``).
fn describe(graph: &Graph, id: crate::ir::NodeId) -> String {
    let node = graph.node(id);
    match &node.name {
        Some(name) => format!("`{name}`"),
        None => format!("the result of `{}`", node.op.word()),
    }
}

fn check_annotations(graph: &Graph, diagnostics: &mut Diagnostics) {
    for annotation in &graph.annotations {
        let node = graph.node(annotation.node);
        let actual = match (&node.shape, &node.op) {
            (Some(shape), _) => shape,
            // Left without a shape by `infer_shapes` for this disagreement.
            (None, crate::ops::Op::Constant(tensor)) => &Shape::fixed(&tensor.shape),
            (None, _) => continue,
        };
        if *actual != annotation.shape {
            diagnostics.push(annotation.span.error(
                Code::Annotation,
                format!(
                    "`{}` is annotated {} but its value has shape {actual}",
                    annotation.name, annotation.shape
                ),
            ));
        }
    }
}

/// A variable's new value must have the variable's shape exactly.
fn check_updates(graph: &Graph, diagnostics: &mut Diagnostics) {
    for update in &graph.updates {
        let variable = graph.node(update.variable);
        let (Some(expected), Some(actual)) = (&variable.shape, &graph.node(update.value).shape)
        else {
            continue;
        };
        if expected != actual {
            let name = variable
                .name
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            diagnostics.push(graph.node(update.value).span.error(
                Code::UpdateShape,
                format!(
                "the new value of variable `{name}` has shape {actual}, but `{name}` is {expected}"
            ),
            ));
        }
    }
}

/// Outputs become methods, and so do variable accessors (`w`, `w_mut`,
/// `set_w`): no two may share a name, nor take a reserved one.
fn check_method_names(graph: &Graph, diagnostics: &mut Diagnostics) {
    let mut taken: HashMap<String, String> = RESERVED_METHODS
        .iter()
        .map(|(name, what)| ((*name).to_string(), (*what).to_string()))
        .collect();
    let mut claim = |method: String, what: String, span: SpanRange| {
        if let Some(owner) = taken.get(&method) {
            diagnostics.push(span.error(
                Code::MethodName,
                format!(
                "{what} would generate the method `{method}`, which is already {owner}; rename it"
            ),
            ));
            false
        } else {
            taken.insert(method, what);
            true
        }
    };
    for &id in &graph.variables {
        let node = graph.node(id);
        let Some(name) = &node.name else { continue };
        let span = SpanRange::single(name.span());
        claim(
            name.to_string(),
            format!("the accessor of variable `{name}`"),
            span,
        );
        claim(
            format!("{name}_mut"),
            format!("the mutable accessor of variable `{name}`"),
            span,
        );
        claim(
            format!("set_{name}"),
            format!("the setter of variable `{name}`"),
            span,
        );
    }
    for step in &graph.steps {
        let span = SpanRange::single(step.name.span());
        if claim(
            step.name.to_string(),
            format!("training step `{}`", step.name),
            span,
        ) {
            claim(
                format!("{}_with", step.name),
                format!("the workspace form of training step `{}`", step.name),
                span,
            );
        }
    }
    for output in &graph.outputs {
        let span = SpanRange::single(output.name.span());
        // One clash per output is enough: renaming it fixes both names.
        if claim(
            output.name.to_string(),
            format!("output `{}`", output.name),
            span,
        ) {
            claim(
                format!("{}_with", output.name),
                format!("the workspace form of output `{}`", output.name),
                span,
            );
        }
    }
}

/// The most axes a tensor of a `#[no_std]` graph can have: the flat
/// kernels' `MAX_RANK`.
const MAX_RANK: usize = 8;

/// Reports what a `#[no_std]` graph cannot compile: symbolic dims, ops with
/// no slice kernel yet, steps returning outputs, and ranks above
/// [`MAX_RANK`]. Runs on the
/// checked graph, before optimization, so that every error points at what
/// the user wrote.
pub fn no_std(graph: &Graph, diagnostics: &mut Diagnostics) {
    for &id in &graph.inputs {
        let node = graph.node(id);
        if let Some(shape) = &node.shape {
            if shape.as_fixed().is_none() {
                let literal: Vec<String> = shape
                    .0
                    .iter()
                    .map(|dim| match dim {
                        crate::shape::Dim::Fixed(size) => size.to_string(),
                        crate::shape::Dim::Symbol(_) => "1".to_string(),
                    })
                    .collect();
                diagnostics.push(node.span.error(
                    Code::BareSymbolicInput,
                    format!(
                        "a `#[no_std]` graph takes fixed-size arrays, so its shapes are literal, \
                     but input `{}` has shape {shape}; write its sizes as numbers, as in `[{}]`",
                        crate::emit::local(graph, id),
                        literal.join(", ")
                    ),
                ));
            }
        }
    }
    for step in graph.steps.iter().filter(|step| !step.outputs.is_empty()) {
        diagnostics.push(step.span.error(
            Code::BareStepOutputs,
            format!(
                "a training step of a `#[no_std]` graph returns only its loss, not outputs \
                 (`outputs = [..]`): call the outputs' methods before step `{}` for the \
                 values the step starts from",
                step.name
            ),
        ));
    }
    no_std_nodes(graph, diagnostics, false);
}

/// Reports the nodes of a `#[no_std]` graph that have no slice kernel or
/// too many axes: over the graph as written ([`no_std`]), and again after
/// `differentiate` over the nodes of its backward passes.
pub fn no_std_nodes(graph: &Graph, diagnostics: &mut Diagnostics, derived: bool) {
    let mut reported: Vec<&'static str> = Vec::new();
    for (index, node) in graph.nodes.iter().enumerate() {
        let supported = node.op.family().is_none_or(|family| {
            family.bare_support(crate::ops::At::new(graph, crate::ir::NodeId(index)))
        });
        let word = node.called.unwrap_or_else(|| node.op.word());
        if !supported && derived {
            // One error per op: a backward pass can hold several such nodes
            // derived from one expression.
            if !reported.contains(&word) {
                reported.push(word);
                diagnostics.push(node.span.error(
                    Code::BareUnsupported,
                    format!(
                        "a training step runs this expression as `{word}` (its training form \
                         or its backward pass), which has no slice kernel in `#[no_std]` \
                         graphs yet"
                    ),
                ));
            }
        } else if !supported {
            diagnostics.push(node.span.error(
                Code::BareUnsupported,
                format!(
                    "`{word}` is not available in `#[no_std]` graphs yet (they have elementwise \
                     ops, comparisons, `select`, reductions, `argmax`, the softmax family, \
                     `mse` and `softmax_cross_entropy`, `matmul` of vectors and matrices, \
                     `one_hot` and movement ops)"
                ),
            ));
        } else if node.shape.as_ref().is_some_and(|s| s.rank() > MAX_RANK) && !derived {
            diagnostics.push(node.span.error(
                Code::BareUnsupported,
                format!("`#[no_std]` graphs take tensors of at most {MAX_RANK} axes"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::diag::Diagnostics;
    use crate::shape::Shape;

    fn checked(tokens: proc_macro2::TokenStream) -> (crate::ir::Graph, Diagnostics) {
        let syntax = crate::parse::parse(tokens).expect("test graphs parse");
        let mut diagnostics = Diagnostics::new();
        let resolution = crate::resolve::resolve(&syntax, &mut diagnostics).expect("acyclic");
        let mut graph = crate::lower::lower(&syntax, &resolution, &mut diagnostics);
        super::check(&mut graph, &mut diagnostics);
        (graph, diagnostics)
    }

    #[test]
    fn infers_every_shape_in_topological_order() {
        let (graph, diagnostics) = checked(quote::quote! {
            struct Affine {
                output y = h * 2.0;
                let h = matmul(x, w) + b;
                input x: [n, 3];
                var w: [3, 4];
                var b: [4];
            }
        });
        assert!(!diagnostics.has_errors());
        graph.validate().unwrap();
        let y = graph.outputs[0].node;
        assert_eq!(graph.shape(y).to_string(), "[n, 4]");
        let mul = graph.node(y);
        assert_eq!(mul.op.word(), "mul");
        assert_eq!(*graph.shape(mul.operands[1]), Shape::scalar());
    }

    #[test]
    fn reports_each_error_once_and_not_downstream() {
        let (_, diagnostics) = checked(quote::quote! {
            struct Bad {
                input x: [2, 3];
                input y: [3, 2];
                let s = x + y;
                output z = s * 2.0 + s;
                output m = matmul(x, x);
            }
        });
        let message = diagnostics
            .finish()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>();
        assert_eq!(message.len(), 2, "{message:?}");
        assert!(message[0].starts_with("[SF0301] `+` cannot broadcast [2, 3] with [3, 2]"));
        assert!(message[1].starts_with("[SF0304] `matmul` inner dimensions differ"));
    }

    #[test]
    fn pad_reads_pairs_and_checks_them_against_the_operand() {
        let (graph, diagnostics) = checked(quote::quote! {
            struct Padded {
                input x: [n, 4, 4, 3];
                output y = pad(x, [[0, 0], [1, 1], [2, 0], [0, 0]], value = -3.4028235e38);
                output z = x.pad(paddings = [[0, 0], [0, 0], [0, 0], [0, 1]]);
            }
        });
        assert!(!diagnostics.has_errors());
        assert_eq!(
            graph.shape(graph.outputs[0].node).to_string(),
            "[n, 6, 6, 3]"
        );
        assert_eq!(
            graph.shape(graph.outputs[1].node).to_string(),
            "[n, 4, 4, 4]"
        );
        let y = graph.node(graph.outputs[0].node);
        assert_eq!(
            y.attributes
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>(),
            ["paddings", "value"]
        );
        let (_, diagnostics) = checked(quote::quote! {
            struct Bad {
                input x: [n, 3];
                output a = pad(x, [[1, 0], [0, 0]]);
                output b = pad(x, [[0, 0]]);
                output c = pad(x, [0, 0, 1, 1]);
                output d = pad(x, [[0, 0], [-1, 1]]);
                output e = pad(x, [[0, 0], [1]]);
                output f = pad(x, 2);
            }
        });
        let messages = diagnostics
            .finish()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>();
        assert_eq!(messages.len(), 6, "{messages:?}");
        // The attributes' errors (lower) come before the shape rule's
        // (check); in a compile they are sorted by their spans.
        let written = "[SF0404] `paddings` must be a list of `[before, after]` pairs of \
                       non-negative integers, one per axis, such as `[[0, 0], [1, 1]]`";
        assert_eq!(
            messages[0],
            format!("{written}: one nested pair per axis, not a flat list of integers")
        );
        for message in &messages[1..3] {
            assert_eq!(
                *message,
                format!("{written}, but this is not a pair of non-negative integers")
            );
        }
        assert_eq!(messages[3], written);
        assert_eq!(
            messages[4],
            "[SF0307] `pad` cannot pad axis 0 of [n, 3] by [1, 0]: its size is the symbolic dim `n`, \
             and `n + 1` would not be one dim; give it `[0, 0]`"
        );
        assert_eq!(
            messages[5],
            "[SF0303] `pad` needs one `[before, after]` pair in `paddings` per axis of [n, 3], so 2 \
             pairs, but was given 1 pair"
        );
    }
}
