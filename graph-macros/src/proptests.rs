//! Property tests of the whole expander (issue 6): generated valid graphs
//! expand, keep the IR's invariants through every pass and emit valid Rust;
//! mutated sources and token soup never make it panic.
//!
//! Each property runs proptest's case count: 256 by default (what CI runs),
//! more with `PROPTEST_CASES=20000 cargo test -p graph-macros proptests`.
//! Runs are seeded, so CI is reproducible; `PROPTEST_RNG_SEED=<u64>` explores
//! other cases. A failure shrinks to a small source, printed with the
//! failure: reduce it by hand and keep it as a unit test in `regressions.rs`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use proc_macro2::{TokenStream, TokenTree};
use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestCaseError};

use crate::expand;
use crate::ir::Graph;
use crate::optimize;

mod choices;
mod generate;
mod mutate;
mod regressions;

use choices::Choices;
use generate::Kind;

/// The seed of CI's runs.
const SEED: u64 = 0x5747_4146_4c4f_5721;

fn config() -> ProptestConfig {
    // `default()` reads PROPTEST_CASES and PROPTEST_RNG_SEED.
    let mut config = ProptestConfig::default();
    if config.rng_seed == RngSeed::Random {
        config.rng_seed = RngSeed::Fixed(SEED);
    }
    // Failures become unit tests below rather than files beside the source.
    config.failure_persistence = None;
    config
}

/// The decisions a generator reads (see `choices.rs`).
fn decisions() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(any::<u32>(), 0..400)
}

fn fail(message: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(message.into())
}

/// Source text of a token stream, cut short for failure messages.
fn shown(tokens: &TokenStream) -> String {
    let text = tokens.to_string();
    if text.len() > 2000 {
        let cut = (0..=2000)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        format!("{} ... ({} bytes)", &text[..cut], text.len())
    } else {
        text
    }
}

/// The IR invariants: `validate`, every shape inferred, and for the
/// optimised graph no dead node and no two nodes computing the same thing.
fn check_invariants(graph: &Graph, optimised: bool) -> Result<(), String> {
    graph.validate()?;
    if let Some(index) = graph.nodes.iter().position(|node| node.shape.is_none()) {
        return Err(format!("node {index} has no shape"));
    }
    if !optimised {
        return Ok(());
    }
    let roots = graph
        .outputs
        .iter()
        .map(|output| output.node)
        .chain(graph.updates.iter().flat_map(|u| [u.variable, u.value]))
        .chain(graph.inputs.iter().copied())
        .chain(graph.variables.iter().copied());
    if let Some(dead) = graph.reachable(roots).iter().position(|live| !live) {
        return Err(format!("node {dead} survived dead-node elimination"));
    }
    let mut seen = std::collections::HashSet::new();
    for (index, node) in graph.nodes.iter().enumerate() {
        let leaf = matches!(node.op, crate::ir::Op::Input | crate::ir::Op::Variable);
        if !leaf && !seen.insert((&node.op, &node.operands)) {
            return Err(format!(
                "node {index} survived common-subexpression elimination"
            ));
        }
    }
    Ok(())
}

/// The outputs' names, shapes and element types, as the IR has them.
fn outputs(graph: &Graph) -> Vec<(String, String, &'static str)> {
    graph
        .outputs
        .iter()
        .map(|output| {
            let node = graph.node(output.node);
            let shape = node.shape.as_ref().map(ToString::to_string);
            (
                output.name.to_string(),
                shape.unwrap_or_default(),
                node.dtype.name(),
            )
        })
        .collect()
}

fn names(graph: &Graph, ids: &[crate::ir::NodeId]) -> Vec<String> {
    ids.iter()
        .map(|&id| {
            graph
                .node(id)
                .name
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect()
}

/// A `let` that rebinds a name earlier bound in the same function body: a
/// later use of the name would read the wrong node.
fn rebound_local(file: &syn::File) -> Option<String> {
    let functions = file.items.iter().flat_map(|item| match item {
        syn::Item::Impl(block) => block
            .items
            .iter()
            .filter_map(|item| match item {
                syn::ImplItem::Fn(function) => Some((&function.sig, &function.block)),
                _ => None,
            })
            .collect(),
        syn::Item::Fn(function) => vec![(&function.sig, &*function.block)],
        _ => Vec::new(),
    });
    for (signature, block) in functions {
        let mut bound = std::collections::HashSet::new();
        for statement in &block.stmts {
            if let syn::Stmt::Local(local) = statement {
                let name = quote::ToTokens::to_token_stream(&local.pat).to_string();
                if !bound.insert(name.clone()) {
                    return Some(format!("`{}` binds `{name}` twice", signature.ident));
                }
            }
        }
    }
    None
}

/// The property of valid graphs, on one generated source.
fn check_valid(decisions: Vec<u32>) -> Result<(), TestCaseError> {
    let generated = generate::graph(&mut Choices::new(decisions));
    let source = &generated.source;
    let context = |what: &str, detail: &dyn std::fmt::Display| {
        fail(format!(
            "{what}\n--- source ---\n{source}--- detail ---\n{detail}"
        ))
    };
    let tokens: TokenStream = source
        .parse()
        .map_err(|error| context("the source does not lex", &error))?;

    let expanded = expand::expand_checked(tokens.clone())
        .map_err(|errors| context("a valid graph expands with errors", &errors))?;
    let again = expand::expand_checked(tokens.clone()).unwrap_or_default();
    if again.to_string() != expanded.to_string() {
        return Err(context("two expansions differ", &shown(&again)));
    }
    let file = syn::parse2::<syn::File>(expanded.clone()).map_err(|error| {
        context(
            "the expansion is not a Rust file",
            &format!("{error}\n{}", shown(&expanded)),
        )
    })?;
    if let Some(rebound) = rebound_local(&file) {
        return Err(context("a generated local shadows another", &rebound));
    }

    let mut graph =
        expand::build_graph(tokens).map_err(|error| context("`build_graph` fails", &error))?;
    check_invariants(&graph, false).map_err(|error| context("checked IR is invalid", &error))?;
    let expected = generated.outputs();
    if outputs(&graph) != expected {
        let detail = format!("IR: {:?}\nreference: {expected:?}", outputs(&graph));
        return Err(context("output shapes or types differ", &detail));
    }
    let inputs = names(&graph, &graph.inputs);
    let variables = names(&graph, &graph.variables);
    if inputs != generated.names(Kind::Input) || variables != generated.names(Kind::Var) {
        let detail = format!("inputs {inputs:?}, variables {variables:?}");
        return Err(context(
            "inputs or variables are not in declaration order",
            &detail,
        ));
    }
    if graph.updates.len() != generated.names(Kind::Update).len() {
        return Err(context("updates are lost", &graph.updates.len()));
    }

    optimize::eliminate_common_subexpressions(&mut graph);
    check_invariants(&graph, false).map_err(|error| context("invalid after CSE", &error))?;
    optimize::eliminate_dead_nodes(&mut graph);
    check_invariants(&graph, true).map_err(|error| context("invalid after DCE", &error))?;
    if outputs(&graph) != expected {
        return Err(context(
            "the passes changed an output",
            &format!("{:?}", outputs(&graph)),
        ));
    }
    Ok(())
}

/// The property of hostile input: no panic, and an error is a
/// `compile_error!` beside items that parse as Rust.
fn check_no_panic(tokens: TokenStream) -> Result<(), TestCaseError> {
    let input = shown(&tokens);
    let result = catch_unwind(AssertUnwindSafe(|| expand::expand_checked(tokens)));
    let output = match result {
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            return Err(fail(format!(
                "the expander panicked: {message}\ninput: {input}"
            )));
        }
        Ok(Ok(expansion)) => expansion,
        Ok(Err(errors)) => {
            if !errors.to_string().contains("compile_error") {
                return Err(fail(format!(
                    "an error without `compile_error!`\ninput: {input}"
                )));
            }
            errors
        }
    };
    if let Some(message) = uncoded_error(&output) {
        return Err(fail(format!(
            "an error without a code: {message}\ninput: {input}"
        )));
    }
    if let Err(error) = syn::parse2::<syn::File>(output.clone()) {
        return Err(fail(format!(
            "the output is not a Rust file: {error}\ninput: {input}\noutput: {}",
            shown(&output)
        )));
    }
    Ok(())
}

/// The message of a `compile_error!` in `tokens` that does not start with
/// a code (`[SF0301] ...`), if there is one.
fn uncoded_error(tokens: &TokenStream) -> Option<String> {
    let tokens: Vec<TokenTree> = tokens.clone().into_iter().collect();
    tokens
        .iter()
        .enumerate()
        .find_map(|(i, token)| match token {
            TokenTree::Ident(ident) if ident == "compile_error" => {
                let Some(TokenTree::Group(group)) = tokens.get(i + 2) else {
                    return None;
                };
                let message = group.stream().to_string();
                (!message.starts_with("\"[SF")).then_some(message)
            }
            TokenTree::Group(group) => uncoded_error(&group.stream()),
            _ => None,
        })
}

/// `#[budget(..)]` attributes, well and badly formed, for graphs that
/// otherwise expand.
const BUDGETS: [&str; 18] = [
    "#[budget(workspace = 0)]",
    "#[budget(workspace = 1)]",
    "#[budget(workspace = \"64 KiB\")]",
    "#[budget(workspace = \"1 MB\", weights = 1)]",
    "#[budget(workspace = \"18446744073709551615 MiB\")]",
    "#[budget(workspace = 18446744073709551615)]",
    "#[budget(workspace = 99999999999999999999)]",
    "#[budget(workspace = \"1.5 KiB\")]",
    "#[budget(workspace = \"\")]",
    "#[budget(workspace = -1)]",
    "#[budget(workspace = 1e3)]",
    "#[budget(workspace)]",
    "#[budget(workspace = 4, workspace = 8, stack = 2)]",
    "#[budget()]",
    "#[budget]",
    "#[budget = \"4 KiB\"]",
    "#[budget(workspace = 8)] #[budget(workspace = 8)]",
    "#[budget(a::b = 1, weights = x)]",
];

proptest! {
    #![proptest_config(config())]

    /// Budgets, on std and `#[no_std]` graphs: every budget error has a
    /// code, and nothing panics.
    #[test]
    fn budgets_never_panic(graph in decisions(), which in 0..BUDGETS.len(), bare in any::<bool>()) {
        let source = generate::graph(&mut Choices::new(graph)).source;
        let bare = if bare { "#[no_std]\n" } else { "" };
        let tokens: TokenStream = format!("{}\n{bare}{source}", BUDGETS[which])
            .parse()
            .expect("generated sources lex");
        check_no_panic(tokens)?;
    }

    #[test]
    fn generated_graphs_expand_and_keep_invariants(decisions in decisions()) {
        check_valid(decisions)?;
    }

    #[test]
    fn mutated_graphs_never_panic(graph in decisions(), mutations in decisions()) {
        let source = generate::graph(&mut Choices::new(graph)).source;
        let mut tokens = mutate::tree(source.parse().expect("generated sources lex"));
        let mut choices = Choices::new(mutations);
        for _ in 0..choices.between(1, 4) {
            mutate::mutate(&mut tokens, &mut choices);
        }
        check_no_panic(mutate::stream(&tokens))?;
    }

    #[test]
    fn token_soup_never_panics(decisions in decisions()) {
        let tokens = mutate::soup_in_context(&mut Choices::new(decisions));
        check_no_panic(tokens)?;
    }
}

#[test]
fn finds_errors_without_a_code() {
    let coded = quote::quote! { mod m { ::core::compile_error! { "[SF0301] shapes" } } };
    assert_eq!(uncoded_error(&coded), None);
    let uncoded = quote::quote! { fn f() {} mod m { ::core::compile_error! { "shapes" } } };
    assert_eq!(uncoded_error(&uncoded).as_deref(), Some("\"shapes\""));
    // A graph whose workspace is over its budget: the error has its code.
    let over = quote::quote! {
        #[budget(workspace = 4)]
        struct G { input x: [2, 3]; output y = relu(x) * 2.0; }
    };
    let errors = expand::expand_checked(over).unwrap_err();
    assert!(errors.to_string().contains("[SF0803]"), "{errors}");
    assert_eq!(uncoded_error(&errors), None);
}
