//! The `std` form of the shared schedule ([`crate::emit::fetch`]): the
//! private `__fetch_with` computing any subset of the outputs, its struct of
//! `Option` views, and the bodies of the entry points that call it.
//!
//! ```text
//! pub fn probs_with<'a>(&'a self, __ws: &'a mut MlpWorkspace, x: ArrayView<'a, f32, Ix2>)
//!     -> Result<ArrayView<'a, f32, Ix2>, Error> {
//!     let __fetched = self.__fetch_with(__ws, [false, true], Some(x))?;
//!     let probs = fetched(__fetched.probs, "probs")?;
//!     Ok(probs)
//! }
//! ```

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::super::fetch::{
    fetched_doc, fetched_name, guarded, need_statements, optional, unwrapped_operands, Schedule,
};
use super::super::private;
use super::entry::{entry_inputs, input_checks, input_type, read_locals, workspace_name, Body};
use super::node;
use crate::ir::{Graph, NodeId, Op};
use crate::plan::Plan;

/// The struct of `Option` views and the private `__fetch_with`.
pub fn fetch_items(graph: &Graph, plan: &Plan, schedule: &Schedule) -> (TokenStream, TokenStream) {
    let p = private();
    let a = quote! { 'a };
    let roots: Vec<NodeId> = graph.outputs.iter().map(|o| o.node).collect();
    let Schedule { needed, inputs } = schedule;
    let params = inputs.iter().map(|&id| {
        let name = super::super::local(graph, id);
        let ty = input_type(graph, id, &a);
        quote! { #name: ::core::option::Option<#ty> }
    });
    let mut statements = need_statements(graph, needed);
    statements.extend(input_checks(graph, inputs, true));
    let read = read_locals(graph, plan, needed, &roots);
    for (index, node) in graph.nodes.iter().enumerate() {
        if !needed[index] || node.op == Op::Input {
            continue;
        }
        let id = NodeId(index);
        let statement = node::statement(graph, plan, id, read[index]);
        if node.op.is_leaf() {
            statements.push(statement);
            continue;
        }
        let operands: Vec<(Ident, TokenStream)> = unwrapped_operands(graph, plan, index)
            .iter()
            .map(|&o| {
                let name = super::super::local(graph, o);
                (name.clone(), quote! { #name })
            })
            .collect();
        let bound = read[index].then(|| super::super::local(graph, id));
        statements.push(guarded(index, &operands, &statement, bound.as_ref()));
    }
    let fetched = fetched_name(graph);
    let fields = graph.outputs.iter().map(|output| {
        let field = &output.name;
        let local = super::super::local(graph, output.node);
        if !optional(graph, output.node) {
            quote! { #field: ::core::option::Option::Some(#local) }
        } else if *field == local {
            quote! { #field }
        } else {
            quote! { #field: #local }
        }
    });
    let field_types = graph.outputs.iter().map(|output| {
        let field = &output.name;
        let ty = super::entry::view_return(graph, output.node, &a);
        quote! { #field: ::core::option::Option<#ty> }
    });
    let generics = super::entry::views_generics(graph);
    let workspace = workspace_name(graph);
    let count = graph.outputs.len();
    let doc = fetched_doc(graph);
    let structure = quote! {
        #[doc = #doc]
        struct #fetched #generics {
            #(#field_types,)*
        }
    };
    let method = quote! {
        /// Computes the outputs `__want` selects, and every node they need,
        /// once each: the schedule every entry point shares. (A node that
        /// reads only the size of an operand, such as a gradient's shape,
        /// still unwraps the operand, unused.)
        #[allow(unused_variables)]
        fn __fetch_with<'a>(&'a self, __ws: &'a mut #workspace, __want: [bool; #count],
            #(#params),*)
            -> ::core::result::Result<#fetched #generics, #p::Error> {
            #(#statements)*
            ::core::result::Result::Ok(#fetched { #(#fields),* })
        }
    };
    (structure, method)
}

/// The body of an entry point computing `wanted` (indices into the graph's
/// outputs) through `__fetch_with`: its parameters, the call, and one `let`
/// per wanted output binding the output's name.
pub fn fetch_call(
    graph: &Graph,
    schedule: &Schedule,
    wanted: &[usize],
    lifetime: &TokenStream,
) -> Body {
    let p = private();
    let needed = graph.reachable(wanted.iter().map(|&k| graph.outputs[k].node));
    let inputs = entry_inputs(graph, &needed);
    let mut body = Body::taking(graph, &inputs, lifetime);
    let call = schedule.call(graph, wanted, &inputs);
    body.statements.push(quote! { let __fetched = #call?; });
    for &k in wanted {
        let field = &graph.outputs[k].name;
        let text = field.to_string();
        body.statements.push(quote! {
            let #field = #p::fetched(__fetched.#field, #text)?;
        });
    }
    body
}
