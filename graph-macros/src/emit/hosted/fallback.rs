//! What a `std` graph with errors expands to beside its `compile_error!`s.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::super::{allowed_lints, array_type, element, private, view_type};
use super::entry;
use crate::ir::{Graph, NodeId};
use crate::parse::{DeclKind, Expr, GraphSyntax};

/// What a graph with errors expands to, beside its `compile_error!`s: the
/// struct and the signatures the user asked for, with bodies that never run,
/// so calling code sees one real error instead of a cascade of "cannot find".
/// Types come from the declared shapes, and from inferred ones where known.
/// Outputs whose value had an error before it became a node take every
/// input; so do training steps whose loss is not a node, the others taking
/// the inputs their loss and learning rate read. (Optimizer state is not a
/// parameter of `new`, as in the real expansion.)
pub fn fallback(graph: &Graph, syntax: &GraphSyntax) -> TokenStream {
    let p = private();
    let unlowered: Vec<&Ident> = syntax
        .decls
        .iter()
        .filter(|decl| decl.kind == DeclKind::Output)
        .map(|decl| &decl.name)
        .filter(|name| graph.outputs.iter().all(|output| output.name != **name))
        .collect();
    let Graph {
        attrs, vis, name, ..
    } = graph;
    let lints = allowed_lints();
    let dyn_array = quote! { #p::ndarray::Array<f32, #p::ndarray::IxDyn> };
    let workspace = entry::workspace_name(graph);
    let type_of = |id: NodeId| {
        let node = graph.node(id);
        node.shape
            .as_ref()
            .map_or(dyn_array.clone(), |shape| array_type(shape, node.dtype))
    };
    let variables: Vec<TokenStream> = graph
        .variables
        .iter()
        .filter(|id| !graph.state.contains(id))
        .map(|&id| {
            let ty = type_of(id);
            quote! { _: #ty }
        })
        .collect();
    let everything: Vec<NodeId> = graph.inputs.clone();
    let outputs = graph
        .outputs
        .iter()
        .map(|output| (&output.name, Some(output.node)))
        .chain(unlowered.iter().map(|name| (*name, None)));
    let methods = outputs.map(|(method, node)| {
        let needed = graph.reachable(node.map_or(everything.clone(), |node| vec![node]));
        let params = input_params(graph, &needed);
        let ty = node.map_or(dyn_array.clone(), type_of);
        let with = format_ident!("{}_with", method);
        quote! {
            #vis fn #method(&self, #(#params),*) -> ::core::result::Result<#ty, #p::Error> {
                ::core::unreachable!()
            }
            #vis fn #with(&self, _: &mut #workspace, #(#params),*) -> ::core::result::Result<#ty, #p::Error> {
                ::core::unreachable!()
            }
        }
    });
    let steps = step_methods(graph, syntax, &unlowered);
    let workspace_decl = quote! {
        #[derive(Debug, Clone, Default)]
        #vis struct #workspace;
    };
    quote! {
        #(#attrs)*
        #lints
        #vis struct #name;

        #lints
        #workspace_decl

        #lints
        impl #name {
            #vis fn new(#(#variables),*) -> ::core::result::Result<Self, #p::Error> {
                ::core::unreachable!()
            }
            #vis fn zeros() -> Self {
                ::core::unreachable!()
            }
            #(#methods)*
            #(#steps)*
        }
    }
}

/// The parameters of a method computing the `needed` nodes: one per input
/// it reads, typed by the declared shape (a dynamic array where unknown).
fn input_params(graph: &Graph, needed: &[bool]) -> Vec<TokenStream> {
    let p = private();
    graph
        .inputs
        .iter()
        .filter(|id| needed[id.0])
        .map(|&id| {
            let dtype = graph.node(id).dtype;
            let ty = graph.node(id).shape.as_ref().map_or_else(
                || quote! { #p::ndarray::Array<f32, #p::ndarray::IxDyn> },
                |shape| {
                    if shape.is_scalar() {
                        element(dtype)
                    } else {
                        view_type(shape, dtype, false)
                    }
                },
            );
            quote! { _: #ty }
        })
        .collect()
}

/// The training steps' methods. A step whose methods would clash with an
/// output's has its error already: declaring it again would add a rustc one.
fn step_methods(graph: &Graph, syntax: &GraphSyntax, unlowered: &[&Ident]) -> Vec<TokenStream> {
    let p = private();
    let vis = &graph.vis;
    let workspace = entry::workspace_name(graph);
    let taken: Vec<String> = graph
        .outputs
        .iter()
        .map(|output| &output.name)
        .chain(unlowered.iter().copied())
        .flat_map(|name| [name.to_string(), format!("{name}_with")])
        .chain(["new", "zeros"].map(String::from))
        .collect();
    syntax
        .decls
        .iter()
        .filter(|decl| decl.kind == DeclKind::Step)
        .filter(|decl| {
            let name = decl.name.to_string();
            !taken.contains(&name) && !taken.contains(&format!("{name}_with"))
        })
        .map(|decl| {
            let roots = decl
                .value
                .as_ref()
                .and_then(|value| step_roots(graph, value))
                .unwrap_or_else(|| graph.inputs.clone());
            let params = input_params(graph, &graph.reachable(roots));
            let method = &decl.name;
            let with = format_ident!("{}_with", method);
            quote! {
                #vis fn #method(&mut self, #(#params),*) -> ::core::result::Result<f32, #p::Error> {
                    ::core::unreachable!()
                }
                #vis fn #with(&mut self, _: &mut #workspace, #(#params),*) -> ::core::result::Result<f32, #p::Error> {
                    ::core::unreachable!()
                }
            }
        })
        .collect()
}

/// The nodes a step `minimize(loss, optimizer(lr = ..), ..)` reads, when
/// its loss is a node of the graph: the loss and every name in the
/// optimizer's arguments (an input learning rate).
fn step_roots(graph: &Graph, value: &Expr) -> Option<Vec<NodeId>> {
    let Expr::Call(_, args, _) = value else {
        return None;
    };
    let node_named = |name: &Ident| {
        graph
            .outputs
            .iter()
            .find(|output| output.name == *name)
            .map(|output| output.node)
            .or_else(|| {
                (0..graph.nodes.len())
                    .map(NodeId)
                    .find(|&id| graph.node(id).name.as_ref() == Some(name))
            })
    };
    let Some(Expr::Name(loss)) = args.first().map(|arg| &arg.value) else {
        return None;
    };
    let mut roots = vec![node_named(loss)?];
    if let Some(Expr::Call(_, settings, _)) = args.get(1).map(|arg| &arg.value) {
        roots.extend(settings.iter().filter_map(|setting| match &setting.value {
            Expr::Name(name) => node_named(name),
            _ => None,
        }));
    }
    Some(roots)
}
