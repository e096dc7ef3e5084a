//! The `#[no_std]` form of the shared schedule ([`crate::emit::fetch`]):
//! the private `__fetch_with` computing any subset of the outputs into a
//! struct of `Option` arrays, and the calls of it that the entry points are.
//!
//! ```text
//! pub fn probs_with(&self, __ws: &mut DigitsWorkspace, x: &[[f32; 64]; 1]) -> [[f32; 10]; 1] {
//!     let __fetched = self.__fetch_with(__ws, [false, true], Some(x));
//!     let probs = match __fetched.probs { Some(probs) => probs, None => [[0.0f32; 10]; 1] };
//!     probs
//! }
//! ```
//!
//! The entry points cannot fail, so an output the schedule did not compute
//! (which the expansion rules out) would come back as zeros rather than as
//! an error.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::super::fetch::{
    fetched_doc, fetched_name, guarded, need_statements, optional, unwrapped_operands, Schedule,
};
use super::{
    entry_params, flatten, is_owned_array, lints, local, needed_inputs, nested_zeros, output_type,
    output_value, statement, workspace_name,
};
use crate::ir::{Graph, NodeId, Op};
use crate::plan::Plan;

/// The struct of `Option` outputs and the private `__fetch_with`.
pub fn fetch_items(graph: &Graph, plan: &Plan, schedule: &Schedule) -> (TokenStream, TokenStream) {
    let some = quote! { ::core::option::Option::Some };
    let needed = &schedule.needed;
    let params = entry_params(graph, needed)
        .into_iter()
        .map(|(name, ty)| quote! { #name: ::core::option::Option<#ty> });
    let mut statements = need_statements(graph, needed);
    for (index, node) in graph.nodes.iter().enumerate() {
        if !needed[index] {
            continue;
        }
        let id = NodeId(index);
        let name = local(graph, id);
        let shape = graph.shape(id);
        match &node.op {
            Op::Input if shape.is_scalar() => {}
            Op::Input => {
                let elem = super::element(node.dtype);
                let flat = flatten(&quote! { #name }, shape.rank(), false);
                statements.push(quote! {
                    let #name: ::core::option::Option<&[#elem]> = #name.map(|#name| #flat);
                });
            }
            op if op.is_leaf() => statements.push(statement(graph, plan, id)),
            _ => {
                let operands: Vec<(Ident, TokenStream)> = unwrapped_operands(graph, plan, index)
                    .iter()
                    .map(|&o| {
                        let operand = local(graph, o);
                        let value = if is_owned_array(graph, plan, o) {
                            quote! { #operand.as_ref() }
                        } else {
                            quote! { #operand }
                        };
                        (operand, value)
                    })
                    .collect();
                let statement = statement(graph, plan, id);
                statements.push(guarded(index, &operands, &statement, Some(&name)));
            }
        }
    }
    let fetched = fetched_name(graph);
    let fields = graph.outputs.iter().map(|output| {
        let field = &output.name;
        let id = output.node;
        let name = local(graph, id);
        let value = output_value(graph, plan, id);
        if !optional(graph, id) {
            quote! { #field: #some(#value) }
        } else if graph.shape(id).is_scalar() || is_owned_array(graph, plan, id) {
            if *field == name {
                quote! { #field }
            } else {
                quote! { #field: #name }
            }
        } else {
            quote! { #field: #name.map(|#name| #value) }
        }
    });
    let field_types = graph.outputs.iter().map(|output| {
        let field = &output.name;
        let ty = output_type(graph, output.node);
        quote! { #field: ::core::option::Option<#ty> }
    });
    let lints = lints();
    let workspace = workspace_name(graph);
    let count = graph.outputs.len();
    let doc = fetched_doc(graph);
    let structure = quote! {
        #[doc = #doc]
        #lints
        struct #fetched {
            #(#field_types,)*
        }
    };
    let method = quote! {
        /// Computes the outputs `__want` selects, and every node they need,
        /// once each: the schedule every entry point shares.
        #[allow(unused_variables)]
        fn __fetch_with(&self, __ws: &mut #workspace, __want: [bool; #count], #(#params),*)
            -> #fetched {
            #(#statements)*
            #fetched { #(#fields),* }
        }
    };
    (structure, method)
}

/// The statements of an entry point computing `wanted` (indices into the
/// graph's outputs) through `__fetch_with`, given the inputs of the
/// `needed` nodes: the call, and one `let` per wanted output binding the
/// output's name; and the value of the first wanted output.
pub fn fetch_call(
    graph: &Graph,
    schedule: &Schedule,
    wanted: &[usize],
    needed: &[bool],
) -> (Vec<TokenStream>, TokenStream) {
    let call = schedule.call(graph, wanted, &needed_inputs(graph, needed));
    let mut statements = vec![quote! { let __fetched = #call; }];
    for &k in wanted {
        let output = &graph.outputs[k];
        let field = &output.name;
        let zeros = nested_zeros(graph.shape(output.node), graph.node(output.node).dtype);
        statements.push(quote! {
            // Zeros only on the path that never runs, not built every call.
            let #field = match __fetched.#field {
                ::core::option::Option::Some(#field) => #field,
                ::core::option::Option::None => #zeros,
            };
        });
    }
    let first = wanted.first().map(|&k| {
        let field = &graph.outputs[k].name;
        quote! { #field }
    });
    (statements, first.unwrap_or_default())
}
