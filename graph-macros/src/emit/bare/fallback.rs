//! What a `#[no_std]` graph with errors expands to beside its
//! `compile_error!`s.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{lints, nested_type, workspace_name};
use crate::ir::{Graph, NodeId};

/// What a `#[no_std]` graph with errors expands to beside its
/// `compile_error!`s: the struct, its workspace and every method the user
/// would call, with bodies that never run, so that calling code sees the
/// real errors rather than a cascade of "no function named". Inputs are
/// generic (their array types may be the very thing in error); outputs
/// have their array type where their shape is known and literal.
pub fn fallback(graph: &Graph) -> TokenStream {
    let Graph {
        attrs, vis, name, ..
    } = graph;
    let lints = lints();
    let workspace = workspace_name(graph);
    let known = |id: NodeId| {
        let node = graph.node(id);
        node.shape
            .as_ref()
            .filter(|shape| shape.as_fixed().is_some())
            .map_or_else(
                || quote! { [f32; 0] },
                |shape| nested_type(shape, node.dtype),
            )
    };
    let variables = graph.variables.iter().map(|&id| {
        let ty = known(id);
        quote! { _: #ty }
    });
    let methods = graph.outputs.iter().map(|output| {
        let inputs = graph.reachable([output.node]);
        let generics: Vec<Ident> = graph
            .inputs
            .iter()
            .filter(|id| inputs[id.0])
            .enumerate()
            .map(|(i, _)| format_ident!("I{}", i))
            .collect();
        let method = &output.name;
        let with = format_ident!("{}_with", method);
        let ty = known(output.node);
        quote! {
            #vis fn #method<#(#generics),*>(&self, #(_: #generics),*) -> #ty {
                ::core::unreachable!()
            }
            #vis fn #with<#(#generics),*>(&self, _: &mut #workspace, #(_: #generics),*) -> #ty {
                ::core::unreachable!()
            }
        }
    });
    quote! {
        #(#attrs)*
        #lints
        #vis struct #name;

        #lints
        #vis struct #workspace;

        #lints
        impl #workspace {
            #vis const fn new() -> Self {
                Self
            }
        }

        #lints
        impl #name {
            #vis const fn new(#(#variables),*) -> Self {
                Self
            }
            #(#methods)*
        }
    }
}
