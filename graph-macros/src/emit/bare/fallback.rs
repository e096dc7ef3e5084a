//! What a `#[no_std]` graph with errors expands to beside its
//! `compile_error!`s.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::super::fallback::{outputs, FallbackOutput, MethodNames};
use super::super::{local, outputs_name};
use super::{lints, nested_type, workspace_name};
use crate::ir::{Graph, NodeId};
use crate::parse::GraphSyntax;

/// What a `#[no_std]` graph with errors expands to beside its
/// `compile_error!`s: every item the successful expansion declares (the
/// struct, `NameOutputs`, `NameWorkspace` and its `new` and `Default`, and
/// in the `impl` `WORKSPACE_BYTES`, `new`, the accessors, the entry points
/// and the DOT texts), with bodies that never run, so that calling code
/// sees the real errors rather than a cascade of "no function named".
/// Arrays have their type where their shape is known and literal; an input
/// or variable of another shape is generic (its array type may be the very
/// thing in error), an output of another shape `[f32; 0]`.
pub fn fallback(graph: &Graph, syntax: &GraphSyntax) -> TokenStream {
    let Graph {
        attrs, vis, name, ..
    } = graph;
    let lints = lints();
    let workspace = workspace_name(graph);
    let outputs = outputs(graph, syntax);
    let mut names = MethodNames::new();
    let constructor = constructor(graph);
    let accessors: Vec<TokenStream> = graph
        .variables
        .iter()
        .map(|&id| accessors(graph, id, &mut names))
        .collect();
    let methods: Vec<TokenStream> = outputs
        .iter()
        .map(|output| {
            let (plain, with) = names.claim_pair(output.name);
            let roots = output.node.map(|node| vec![node]);
            let ty = output
                .node
                .and_then(|node| known(graph, node))
                .unwrap_or_else(|| quote! { [f32; 0] });
            entry_point(graph, output.name, roots, &ty, plain, with)
        })
        .collect();
    let (outputs_struct, run) = outputs_items(graph, &outputs);
    let debug = super::super::fallback::debug_impl(graph);
    quote! {
        #(#attrs)*
        #lints
        #vis struct #name {}

        #debug

        #outputs_struct

        #lints
        #[derive(Debug, Clone)]
        #vis struct #workspace {}

        #lints
        impl #workspace {
            #vis const fn new() -> Self {
                Self {}
            }
        }

        impl ::core::default::Default for #workspace {
            fn default() -> Self {
                Self::new()
            }
        }

        #lints
        impl #name {
            #vis const WORKSPACE_BYTES: usize = ::core::mem::size_of::<#workspace>();
            #constructor
            #(#accessors)*
            #(#methods)*
            #run
            #vis const DOT: &'static ::core::primitive::str = "";
            #vis const DOT_AS_WRITTEN: &'static ::core::primitive::str = "";
        }
    }
}

/// `new`, a `const fn` returning a value: a `static` it initialises is
/// evaluated even in a crate that does not compile. Generic variables are
/// forgotten, not dropped: a `const fn` cannot run a destructor.
fn constructor(graph: &Graph) -> TokenStream {
    let vis = &graph.vis;
    let (params, forgets): (Vec<TokenStream>, Vec<TokenStream>) = graph
        .variables
        .iter()
        .enumerate()
        .map(|(index, &id)| {
            if let Some(ty) = known(graph, id) {
                (quote! { _: #ty }, TokenStream::new())
            } else {
                let value = format_ident!("__variable{}", index);
                (
                    quote! { #value: impl ::core::marker::Sized },
                    quote! { ::core::mem::forget(#value); },
                )
            }
        })
        .unzip();
    quote! {
        #vis const fn new(#(#params),*) -> Self {
            #(#forgets)*
            Self {}
        }
    }
}

/// `NameOutputs`, and `run_with` and `run` returning it, when the graph
/// declares outputs.
fn outputs_items(graph: &Graph, outputs: &[FallbackOutput]) -> (TokenStream, TokenStream) {
    if outputs.is_empty() {
        return (TokenStream::new(), TokenStream::new());
    }
    let vis = &graph.vis;
    let lints = lints();
    let outputs_name = outputs_name(graph);
    let fields = outputs.iter().map(|output| {
        let FallbackOutput { name, attrs, node } = output;
        let ty = node
            .and_then(|node| known(graph, node))
            .unwrap_or_else(|| quote! { [f32; 0] });
        quote! { #(#attrs)* pub #name: #ty }
    });
    let roots = outputs.iter().map(|output| output.node).collect();
    let run = entry_point(
        graph,
        &format_ident!("run"),
        roots,
        &quote! { #outputs_name },
        true,
        true,
    );
    let outputs_struct = quote! {
        #lints
        #[derive(Debug, Clone, Copy, PartialEq)]
        #vis struct #outputs_name {
            #(#fields,)*
        }
    };
    (outputs_struct, run)
}

/// Node `id`'s array type (or scalar type), where its shape is known and
/// literal.
fn known(graph: &Graph, id: NodeId) -> Option<TokenStream> {
    let node = graph.node(id);
    node.shape
        .as_ref()
        .filter(|shape| shape.as_fixed().is_some())
        .map(|shape| nested_type(shape, node.dtype))
}

/// `w`, `w_mut` and `set_w` for variable `id`, those whose names are free.
fn accessors(graph: &Graph, id: NodeId, names: &mut MethodNames) -> TokenStream {
    let vis = &graph.vis;
    let name = local(graph, id);
    let mutable = format_ident!("{}_mut", name);
    let setter = format_ident!("set_{}", name);
    let (read, write, set) = match known(graph, id) {
        Some(ty) => (quote! { &#ty }, quote! { &mut #ty }, ty),
        None => (
            quote! { &[f32; 0] },
            quote! { &mut [f32; 0] },
            quote! { impl ::core::marker::Sized },
        ),
    };
    let read = names.claim(&name).then(|| {
        quote! {
            #vis fn #name(&self) -> #read {
                ::core::unreachable!()
            }
        }
    });
    let write = names.claim(&mutable).then(|| {
        quote! {
            #vis fn #mutable(&mut self) -> #write {
                ::core::unreachable!()
            }
        }
    });
    let replace = names.claim(&setter).then(|| {
        quote! {
            #vis fn #setter(&mut self, _: #set) {
                ::core::unreachable!()
            }
        }
    });
    quote! { #read #write #replace }
}

/// The convenience form `<method>` (if `plain`) and the workspace form
/// `<method>_with` (if `with`) of an entry point computing `roots` (every
/// input when `None`) and returning `ty`.
fn entry_point(
    graph: &Graph,
    method: &Ident,
    roots: Option<Vec<NodeId>>,
    ty: &TokenStream,
    plain: bool,
    with: bool,
) -> TokenStream {
    let vis = &graph.vis;
    let workspace = workspace_name(graph);
    let needed = roots.map(|roots| graph.reachable(roots));
    let params: Vec<TokenStream> = graph
        .inputs
        .iter()
        .filter(|id| needed.as_ref().is_none_or(|needed| needed[id.0]))
        .map(|&id| {
            let ty = match known(graph, id) {
                Some(ty)
                    if graph
                        .node(id)
                        .shape
                        .as_ref()
                        .is_some_and(crate::shape::Shape::is_scalar) =>
                {
                    ty
                }
                Some(ty) => quote! { &#ty },
                None => quote! { impl ::core::marker::Sized },
            };
            quote! { _: #ty }
        })
        .collect();
    let plain = plain.then(|| {
        quote! {
            #vis fn #method(&self, #(#params),*) -> #ty {
                ::core::unreachable!()
            }
        }
    });
    let with = with.then(|| {
        let with = format_ident!("{}_with", method);
        quote! {
            #vis fn #with(&self, _: &mut #workspace, #(#params),*) -> #ty {
                ::core::unreachable!()
            }
        }
    });
    quote! { #plain #with }
}
