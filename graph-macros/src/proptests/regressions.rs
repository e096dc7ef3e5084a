//! Bugs the properties found, each reduced by hand to its smallest source
//! and kept as a unit test; the doc comment of each says what went wrong.

use crate::expand;

fn graph(source: &str) -> crate::ir::Graph {
    let tokens = source.parse().expect("test sources lex");
    expand::build_graph(tokens).unwrap_or_else(|error| panic!("{source}: {error}"))
}

/// `resolve` ordered an update whose value does not read its variable
/// before the variable's declaration, and `lower` then dropped it.
#[test]
fn an_update_written_before_its_variable_is_kept() {
    let graph = graph("struct G { w = 1.0; var w: []; output y = w * 2.0; }");
    assert_eq!(graph.updates.len(), 1);
    graph.validate().unwrap();
}

/// `lower` ordered inputs by the first declaration found, in a hash
/// map, whose node was the input's, so an output naming an input moved
/// it in the parameter list, differently from one expansion to the next.
#[test]
fn an_output_naming_an_input_does_not_move_it() {
    for _ in 0..20 {
        let graph =
            graph("struct G { input a: [3]; input b: [3]; output c = a; output d = a + b; }");
        let inputs: Vec<String> = graph
            .inputs
            .iter()
            .map(|&id| graph.node(id).name.as_ref().unwrap().to_string())
            .collect();
        assert_eq!(inputs, ["a", "b"]);
    }
}

fn errors(source: &str) -> String {
    let tokens = source.parse().expect("test sources lex");
    let result = std::panic::catch_unwind(|| expand::expand_checked(tokens));
    let expansion = result.unwrap_or_else(|_| panic!("{source}: the expander panicked"));
    match expansion {
        Err(errors) => errors.to_string(),
        Ok(_) => panic!("{source}: expands without error"),
    }
}

/// `ops::build` took an empty tensor list, and the shape rule of the
/// resulting op without operands indexed its first operand.
#[test]
fn concat_of_nothing_is_an_error() {
    let message = errors("struct G { output y = concat([]); }");
    assert!(
        message.contains("`tensors` must be a list of tensors"),
        "{message}"
    );
}

/// syn's parser and the phases after it recurse once per level of an
/// expression: 500 nested parentheses overflowed the 2 MiB stack of a
/// test thread, and 1,000 the 8 MiB of rustc's.
#[test]
fn deep_nesting_is_an_error() {
    for depth in [65, 500, 5_000] {
        let source = format!(
            "struct G {{ input x: [3]; output y = {}x{}; }}",
            "(".repeat(depth),
            ")".repeat(depth)
        );
        let message = errors(&source);
        assert!(message.contains("nested more than 64 deep"), "{message}");
    }
}

/// Flat chains have no brackets, but recurse as deep.
#[test]
fn long_chains_are_an_error() {
    for chain in [" + x".repeat(10_000), ".relu()".repeat(5_000)] {
        let source = format!("struct G {{ input x: [3]; output y = x{chain}; }}");
        assert!(errors(&source).contains("expression too long"));
    }
    let negations = "- ".repeat(10_000);
    let source = format!("struct G {{ input x: [3]; output y = {negations}x; }}");
    assert!(errors(&source).contains("expression too long"));
}

/// The deepest inputs within the limits expand on a test thread's 2 MiB
/// stack (about 1.3 MiB is used, measured in a debug build).
#[test]
fn the_deepest_accepted_input_expands() {
    let sources = [
        format!(
            "struct G {{ input x: [3]; output y = {}x{}; }}",
            "(- - - ".repeat(62),
            ")".repeat(62)
        ),
        format!(
            "struct G {{ input x: [3]; output y = {}x{}; }}",
            "relu(".repeat(63),
            ")".repeat(63)
        ),
        format!(
            "struct G {{ const c = {}1.0{}; output y = c * 2.0; }}",
            "[".repeat(63),
            "]".repeat(63)
        ),
        format!(
            "struct G {{ input x: [3]; output y = {}x; }}",
            "- ".repeat(248)
        ),
        format!(
            "struct G {{ input x: [3]; output y = x{}; }}",
            " + x".repeat(124)
        ),
    ];
    for source in sources {
        let tokens = source.parse().expect("test sources lex");
        assert!(expand::expand_checked(tokens).is_ok(), "{source}");
    }
}

/// A user value named like a generated local (`__g<id>_<op>`) was
/// shadowed by it in the emitted code: here `y` became
/// `matmul(softmax, softmax)`, silently.
#[test]
fn names_of_generated_locals_are_reserved() {
    let message = errors(
        "struct G { input x: [3, 3]; let __g4_softmax = matmul(x, x); \
         output y = matmul(softmax(x * 2.0), __g4_softmax); }",
    );
    assert!(
        message.contains("names starting with `__` are reserved"),
        "{message}"
    );
}

/// Literal sizes whose product overflows made `plan.rs` and the summary
/// in `introspect/` panic; no array can be that large, so `check` now
/// rejects them.
#[test]
fn shapes_too_large_for_any_array_are_an_error() {
    for source in [
        "struct G { input x: [4294967296, 4294967296]; output y = relu(x); }",
        "struct G { var w: [9223372036854775807, 5]; output y = w * 2.0; }",
        "struct G { input x: [4611686018427387904]; output y = relu(x); }",
        "struct G { input x: [3]; output y = broadcast_to(x, [4611686018427387904, 3]); }",
    ] {
        let message = errors(source);
        assert!(message.contains("than an array can hold"), "{message}");
    }
}

/// Sizes that each fit in memory can still overflow a sum of them.
#[test]
fn workspace_sizes_do_not_overflow() {
    let outputs: Vec<String> = (1..=8)
        .map(|k| format!("output y{k} = x * {k}.0;"))
        .collect();
    let outputs = outputs.join(" ");
    let source = format!("struct G {{ input x: [576460752303423488]; {outputs} }}");
    let tokens: proc_macro2::TokenStream = source.parse().expect("test sources lex");
    let result = std::panic::catch_unwind(|| expand::expand_checked(tokens).is_ok());
    assert!(result.is_ok(), "{source}: the expander panicked");
}

/// A raw identifier as a symbolic dim kept its `r#`, and the emitter
/// panicked building the identifier `__size_r#type` from it.
#[test]
fn raw_identifiers_are_symbols_too() {
    let graph = graph("struct G { input x: [4, r#type]; output y = reshape(x, [r#type, 4]); }");
    assert_eq!(graph.shape(graph.outputs[0].node).to_string(), "[type, 4]");
    let tokens = "struct G { input x: [4, r#type]; output y = transpose(x); }"
        .parse()
        .unwrap();
    assert!(expand::expand_checked(tokens).is_ok());
}
