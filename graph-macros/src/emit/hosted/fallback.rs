//! What a `std` graph with errors expands to beside its `compile_error!`s.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::super::{allowed_lints, array_type, element, private, view_type};
use super::entry;
use crate::ir::{Graph, NodeId};

/// What a graph with errors expands to, beside its `compile_error!`s: the
/// struct and the signatures the user asked for, with bodies that never run,
/// so calling code sees one real error instead of a cascade of "cannot find".
/// Types come from the declared shapes, and from inferred ones where known.
/// `unlowered` are outputs whose value had an error before it became a node:
/// their methods take every input.
pub fn fallback(graph: &Graph, unlowered: &[&Ident]) -> TokenStream {
    let p = private();
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
        let params = graph.inputs.iter().filter(|id| needed[id.0]).map(|&id| {
            let dtype = graph.node(id).dtype;
            let ty = graph
                .node(id)
                .shape
                .as_ref()
                .map_or(dyn_array.clone(), |shape| {
                    if shape.is_scalar() {
                        element(dtype)
                    } else {
                        view_type(shape, dtype, false)
                    }
                });
            quote! { _: #ty }
        });
        let ty = node.map_or(dyn_array.clone(), type_of);
        let with = format_ident!("{}_with", method);
        let params: Vec<TokenStream> = params.collect();
        quote! {
            #vis fn #method(&self, #(#params),*) -> ::core::result::Result<#ty, #p::Error> {
                ::core::unreachable!()
            }
            #vis fn #with(&self, _: &mut #workspace, #(#params),*) -> ::core::result::Result<#ty, #p::Error> {
                ::core::unreachable!()
            }
        }
    });
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
        }
    }
}
