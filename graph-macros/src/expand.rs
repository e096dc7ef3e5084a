//! The macro's pipeline, in order: parse (and import, for `#[onnx(..)]`) → resolve → lower (and bake, and
//! the weights budget) → check (and the `#[no_std]` rules, and the
//! unused-declaration warnings of `lint`) → differentiate → optimize → plan
//! (and the workspace budget) → introspect → emit (into the graph's module,
//! `emit::scope`). Each phase is one module; this file is their table of
//! contents.

use proc_macro2::TokenStream;

use crate::diag::Diagnostics;
use crate::ir::Graph;
use crate::parse::GraphSyntax;
use crate::resolve;
use crate::{
    bake, budget, check, differentiate, dot, emit, import, introspect, lint, lower, optimize,
    parse, plan,
};

/// Expands the body of a `graph!` call. Never panics: every problem in the
/// input becomes a `compile_error!` in the output, next to a fallback
/// expansion of the item the user declared.
pub fn expand(input: TokenStream) -> TokenStream {
    expand_checked(input).unwrap_or_else(|errors| errors)
}

/// Like [`expand`], but tells success from failure: `Err` holds the errors
/// (and the fallback item, when the input got far enough to have one).
pub fn expand_checked(input: TokenStream) -> Result<TokenStream, TokenStream> {
    let mut syntax = parse::parse(input).map_err(|error| error.to_compile_error())?;
    let mut diagnostics = Diagnostics::new();
    let imported = import::import(&mut syntax, &mut diagnostics);
    let budget = budget::read(&syntax.budget, syntax.weights.is_some(), &mut diagnostics);
    let Some(resolution) = resolve::resolve(&syntax, &mut diagnostics) else {
        // A cycle: the fallback has the declarations that refer to nothing,
        // lowered without reporting their errors (the cycle stops the
        // pipeline before they would be).
        let leaves = lower::lower(&syntax, &resolve::leaves(&syntax), &mut Diagnostics::new());
        return Err(finish_with_errors(diagnostics, fallback(leaves, &syntax)));
    };
    let mut graph = lower::lower(&syntax, &resolution, &mut diagnostics);
    if let Some(file) = &syntax.weights {
        let baked = bake::bake(&mut graph, file, &mut diagnostics);
        budget::check_weights(&graph, &baked, &budget, &mut diagnostics);
    }
    match imported {
        Some(model) if !model.runtime_weights => {
            let baked = bake::bake_from(&mut graph, &model.into_source(), &mut diagnostics);
            budget::check_weights(&graph, &baked, &budget, &mut diagnostics);
        }
        // Not baked, but still rebuilt when the model changes.
        Some(model) => graph.baked_from = Some(model.path.display().to_string()),
        None => {}
    }
    check::check(&mut graph, &mut diagnostics);
    if graph.no_std && !diagnostics.has_errors() {
        check::no_std(&graph, &mut diagnostics);
    }
    if !diagnostics.has_errors() {
        differentiate::differentiate(&mut graph, &mut diagnostics);
        if graph.no_std && !diagnostics.has_errors() {
            check::no_std_nodes(&graph, &mut diagnostics, true);
        }
    }
    if diagnostics.has_errors() {
        return Err(finish_with_errors(diagnostics, fallback(graph, &syntax)));
    }
    let warnings = lint::unused(&syntax, &resolution, &graph);
    // Every item is emitted into the graph's module, one module further in.
    let vis = std::mem::replace(&mut graph.vis, emit::scope::inner_visibility(&syntax.vis));
    let as_written = dot::dot(&graph);
    if graph.optimize {
        optimize::run(&mut graph);
    }
    let plan = if graph.no_std {
        plan::plan_bare(&graph)
    } else {
        plan::plan(&graph)
    };
    // The summary's type lives in the std part of the runtime.
    let introspection = introspect::items(&graph, &as_written, !graph.no_std);
    let (over_budget, assertion) = budget::check_workspace(&graph, &plan, &budget);
    let mut items = if graph.no_std {
        emit::bare::emit(&graph, &plan, &introspection)
    } else {
        emit::hosted::emit(&graph, &plan, &introspection)
    };
    items.extend(assertion);
    let mut expansion = emit::scope::scoped(&graph.name, &vis, &items);
    expansion.extend(warnings);
    match over_budget {
        // The graph is sound: its items are emitted whole, next to the
        // error, so that code using them reports nothing more.
        Some(error) => {
            let mut tokens = error.to_compile_error();
            tokens.extend(expansion);
            Err(tokens)
        }
        None => Ok(expansion),
    }
}

/// Runs every phase up to and including `check`, returning the checked IR.
#[cfg(test)]
pub fn build_graph(input: TokenStream) -> syn::Result<Graph> {
    let syntax = parse::parse(input)?;
    let mut diagnostics = Diagnostics::new();
    let resolution = resolve::resolve(&syntax, &mut diagnostics);
    let graph = resolution.map(|resolution| {
        let mut graph = lower::lower(&syntax, &resolution, &mut diagnostics);
        check::check(&mut graph, &mut diagnostics);
        if !diagnostics.has_errors() {
            differentiate::differentiate(&mut graph, &mut diagnostics);
        }
        graph
    });
    diagnostics.finish()?;
    Ok(graph.expect("a graph without a cycle is lowered"))
}

/// The fallback items of a graph with errors, in the graph's module.
fn fallback(mut graph: Graph, syntax: &GraphSyntax) -> TokenStream {
    let vis = std::mem::replace(&mut graph.vis, emit::scope::inner_visibility(&syntax.vis));
    let items = if graph.no_std {
        emit::bare::fallback(&graph, syntax)
    } else {
        emit::hosted::fallback(&graph, syntax)
    };
    emit::scope::scoped(&graph.name, &vis, &items)
}

fn finish_with_errors(diagnostics: Diagnostics, fallback: TokenStream) -> TokenStream {
    let errors = diagnostics
        .finish()
        .err()
        .map(|error| error.to_compile_error())
        .unwrap_or_default();
    let mut tokens = errors;
    tokens.extend(fallback);
    tokens
}
