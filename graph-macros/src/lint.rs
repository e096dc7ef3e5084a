//! Warnings, after `check`: declarations that nothing uses.
//!
//! An input, variable, constant or `let` that no output, update or training
//! step reaches is a mistake as often as an unused Rust variable is. A proc
//! macro on stable Rust cannot emit a warning of its own, so each one is
//! the use of a `#[deprecated]` constant whose note is the message, with
//! the use spanned at the declaration's name: rustc then prints
//!
//! ```text
//! warning: use of deprecated constant `_::unused_declaration`: unused input `x`: ...
//!  --> src/main.rs:4:15
//!   |
//! 4 |         input x: [n, 3];
//!   |               ^
//! ```
//!
//! As with Rust's own unused variables, a name that starts with `_`
//! silences it, and so does `#[allow(unused)]` (or
//! `#[allow(unused_variables)]`) on the graph. A graph with errors gets no
//! warnings: the errors come first.
//!
//! An input that no value reads can still size one (`broadcast_to(c, [n,
//! 2])` takes `n` from `input x: [n, 3]`); the methods then take it, so it
//! is used, as `emit` decides.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use crate::ir::Graph;
use crate::parse::{DeclKind, GraphSyntax};
use crate::resolve::Resolution;

/// The warnings for the declarations of `syntax` that no output, update or
/// training step uses, as items to put beside the expansion.
pub fn unused(syntax: &GraphSyntax, resolution: &Resolution, graph: &Graph) -> TokenStream {
    if allows_unused(syntax) {
        return TokenStream::new();
    }
    unused_declarations(syntax, resolution, graph)
        .into_iter()
        .map(|index| warning(syntax, index))
        .collect()
}

/// Indices of the inputs, variables, constants and `let`s that no root (an
/// output, an update or a step) reaches, in declaration order, leaving out
/// names that start with `_` and inputs that size a value (`graph` is the
/// checked IR of `syntax`).
pub fn unused_declarations(
    syntax: &GraphSyntax,
    resolution: &Resolution,
    graph: &Graph,
) -> Vec<usize> {
    let sizing = sizing_inputs(graph);
    let mut used = vec![false; syntax.decls.len()];
    let mut stack: Vec<usize> = syntax
        .decls
        .iter()
        .enumerate()
        .filter(|(_, decl)| {
            matches!(
                decl.kind,
                DeclKind::Output | DeclKind::Assign | DeclKind::Step
            )
        })
        .map(|(index, _)| index)
        .collect();
    while let Some(index) = stack.pop() {
        if !std::mem::replace(&mut used[index], true) {
            if let Some(uses) = resolution.uses.get(index) {
                stack.extend(uses.iter().copied());
            }
        }
    }
    syntax
        .decls
        .iter()
        .enumerate()
        .filter(|&(index, decl)| {
            !used[index]
                && matches!(
                    decl.kind,
                    DeclKind::Input | DeclKind::Var | DeclKind::Const | DeclKind::Let
                )
                && !decl.name.to_string().starts_with('_')
                && (decl.kind != DeclKind::Input || !sizing.contains(&decl.name.to_string()))
        })
        .map(|(index, _)| index)
        .collect()
}

/// Names of the inputs that no root reads but whose symbolic dims size a
/// value a root needs, where no input that is read binds them: the rule of
/// the generated methods' parameters ([`Graph::inputs_taken`]) over every
/// root at once.
fn sizing_inputs(graph: &Graph) -> Vec<String> {
    let roots = graph
        .outputs
        .iter()
        .map(|output| output.node)
        .chain(graph.updates.iter().flat_map(|u| [u.variable, u.value]))
        .chain(graph.steps.iter().map(|step| step.loss));
    let needed = graph.reachable(roots);
    graph
        .inputs_taken(&needed)
        .into_iter()
        .filter(|id| !needed[id.0])
        .filter_map(|id| graph.node(id).name.as_ref().map(ToString::to_string))
        .collect()
}

/// Whether the graph carries `#[allow(unused)]` or
/// `#[allow(unused_variables)]`.
fn allows_unused(syntax: &GraphSyntax) -> bool {
    syntax.attrs.iter().any(|attr| {
        if !attr.path().is_ident("allow") {
            return false;
        }
        let mut allowed = false;
        // A malformed `allow` is rustc's to report, on the struct.
        let _ = attr.parse_nested_meta(|meta| {
            allowed |= meta.path.is_ident("unused") || meta.path.is_ident("unused_variables");
            Ok(())
        });
        allowed
    })
}

fn warning(syntax: &GraphSyntax, index: usize) -> TokenStream {
    let decl = &syntax.decls[index];
    let noun = match decl.kind {
        DeclKind::Let => "`let`",
        kind => kind.noun(),
    };
    let message = format!(
        "unused {noun} `{name}`: no output, update or training step uses it; \
         if this is intentional, prefix it with an underscore: `_{name}`",
        name = decl.name
    );
    let usage = Ident::new("unused_declaration", decl.name.span());
    quote! {
        #[allow(non_upper_case_globals)]
        const _: () = {
            #[deprecated(note = #message)]
            const unused_declaration: () = ();
            #usage
        };
    }
}

#[cfg(test)]
mod tests {
    use crate::diag::Diagnostics;

    fn analysed(
        tokens: proc_macro2::TokenStream,
    ) -> (
        crate::parse::GraphSyntax,
        crate::resolve::Resolution,
        crate::ir::Graph,
    ) {
        let syntax = crate::parse::parse(tokens).expect("test graphs parse");
        let mut diagnostics = Diagnostics::new();
        let resolution = crate::resolve::resolve(&syntax, &mut diagnostics).expect("acyclic");
        let mut graph = crate::lower::lower(&syntax, &resolution, &mut diagnostics);
        crate::check::check(&mut graph, &mut diagnostics);
        assert!(!diagnostics.has_errors());
        (syntax, resolution, graph)
    }

    fn unused_names(tokens: proc_macro2::TokenStream) -> Vec<String> {
        let (syntax, resolution, graph) = analysed(tokens);
        super::unused_declarations(&syntax, &resolution, &graph)
            .into_iter()
            .map(|index| syntax.decls[index].name.to_string())
            .collect()
    }

    #[test]
    fn finds_what_no_output_update_or_step_reaches() {
        let unused = unused_names(quote::quote! {
            struct M {
                input x: [n, 3];
                input spare: [n, 3];
                input _quiet: [n, 3];
                var w: [3, 2];
                var counter: [];
                var idle: [2];
                const half = 0.5;
                const unused_constant = 2.0;
                let h = matmul(x, w);
                let dead = h * 3.0;
                output y = h * half;
                counter = counter + 1.0;
            }
        });
        assert_eq!(unused, ["spare", "idle", "unused_constant", "dead"]);
    }

    #[test]
    fn a_step_uses_its_loss_and_learning_rate() {
        let unused = unused_names(quote::quote! {
            struct M {
                input x: [n, 3];
                input t: [n, 2];
                input lr: [];
                var w: [3, 2];
                let loss = mse(matmul(x, w), t);
                step train = minimize(loss, sgd(lr));
            }
        });
        assert!(unused.is_empty(), "{unused:?}");
    }

    #[test]
    fn an_input_that_sizes_a_value_is_used() {
        let unused = unused_names(quote::quote! {
            struct M {
                input x: [n, 2];
                input other: [n, 2];
                input m_sized: [m, 2];
                input spare: [k, 2];
                const one = 1.0;
                output grid = broadcast_to(one, [n, 2]) + other;
                output wide = broadcast_to(one, [m, 2]);
            }
        });
        // `other` is read and binds `n`, so `x` sizes nothing.
        assert_eq!(unused, ["x", "spare"]);
    }

    #[test]
    fn allow_unused_on_the_graph_silences_every_warning() {
        let (syntax, resolution, graph) = analysed(quote::quote! {
            #[allow(unused)]
            struct M {
                input x: [n, 3];
                input spare: [n, 3];
                output y = x * 2.0;
            }
        });
        assert!(super::unused(&syntax, &resolution, &graph).is_empty());
        assert_eq!(
            super::unused_declarations(&syntax, &resolution, &graph),
            [1]
        );
    }
}
