//! What the two backends' fallbacks share: the outputs a graph with errors
//! still declares, and the bookkeeping that declares each method once.

use std::collections::HashSet;

use proc_macro2::Ident;
use quote::format_ident;
use syn::Attribute;

use crate::check::RESERVED_METHODS;
use crate::ir::{Graph, NodeId};
use crate::parse::{DeclKind, GraphSyntax};

/// `Debug` for the fallback's struct, as every graph implements it (a
/// user's `derive(Debug)` was taken out).
pub fn debug_impl(graph: &Graph) -> proc_macro2::TokenStream {
    let name = &graph.name;
    let text = name.to_string();
    quote::quote! {
        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#text).finish_non_exhaustive()
            }
        }
    }
}

/// An output as a fallback declares it: its method, its field of
/// `NameOutputs`, and its node when its value became one (an output whose
/// value had an error before lowering has none, and takes every input).
pub struct FallbackOutput<'g> {
    pub name: &'g Ident,
    pub attrs: &'g [Attribute],
    pub node: Option<NodeId>,
}

/// Every output the user declared: those of the graph, then those whose
/// value had an error before it became a node.
pub fn outputs<'g>(graph: &'g Graph, syntax: &'g GraphSyntax) -> Vec<FallbackOutput<'g>> {
    let lowered = graph.outputs.iter().map(|output| FallbackOutput {
        name: &output.name,
        attrs: &output.attrs,
        node: Some(output.node),
    });
    let unlowered = syntax
        .decls
        .iter()
        .filter(|decl| decl.kind == DeclKind::Output)
        .filter(|decl| graph.outputs.iter().all(|output| output.name != decl.name))
        .map(|decl| FallbackOutput {
            name: &decl.name,
            attrs: &decl.attrs,
            node: None,
        });
    lowered.chain(unlowered).collect()
}

/// The method names a fallback has declared, so that it declares each
/// once. Two items generating one name (an output `new`, outputs `y` and
/// `y_with`) already have `check`'s error; a second definition would add
/// rustc's "duplicate definitions". Claimed in `check`'s order (the
/// reserved names, variable accessors, steps, outputs), so the item that
/// keeps the name is the one `check` did not report.
pub struct MethodNames(HashSet<String>);

impl MethodNames {
    /// The reserved names taken: the fallback declares those itself.
    pub fn new() -> Self {
        Self(
            RESERVED_METHODS
                .iter()
                .map(|(name, _)| (*name).to_string())
                .collect(),
        )
    }

    /// Takes `method` if it is free.
    pub fn claim(&mut self, method: &Ident) -> bool {
        self.0.insert(method.to_string())
    }

    /// The methods an output or a step `name` may declare: `name`, if free,
    /// and then `name_with`, if free too (as `check`, which reports one
    /// clash per item).
    pub fn claim_pair(&mut self, name: &Ident) -> (bool, bool) {
        if self.claim(name) {
            (true, self.claim(&format_ident!("{}_with", name)))
        } else {
            (false, false)
        }
    }
}
