//! The methods of a `#[no_std]` graph that change its variables:
//! `update_with`/`update` for the `w = ..;` updates, and one method pair per
//! training step, which also returns the loss its forward pass computed.
//!
//! As in the std backend, every new value is computed before any is
//! stored, from the current values; the workspace holds the forward pass,
//! the backward pass and the new values, so a step allocates nothing and
//! cannot fail:
//!
//! ```text
//! pub fn tune_with(&mut self, workspace: &mut TuneWorkspace, x: &[[f32; 64]; 4], labels: &[usize; 4]) -> f32 {
//!     let __ws = workspace;
//!     let x: &[f32] = x.as_flattened();
//!     let w2: &[f32] = self.w2.as_flattened();
//!     ...                                   // forward, backward, w2 - lr·∂loss/∂w2
//!     flat::copy(&__ws.s3[..320], self.w2.as_flattened_mut());
//!     loss
//! }
//! ```

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{entry_params, flatten, local, private, slice_operand, straight_line, workspace_name};
use crate::ir::{Graph, Update};
use crate::plan::{Plan, Store};

/// `update_with`/`update` and every training step's methods.
pub(super) fn update_methods(graph: &Graph, plan: &Plan) -> TokenStream {
    let mut methods = step_methods(graph, plan, None);
    for step in 0..graph.steps.len() {
        methods.extend(step_methods(graph, plan, Some(step)));
    }
    methods
}

/// The methods applying the updates of `step` (`None`: the `w = ..;`
/// updates).
fn step_methods(graph: &Graph, plan: &Plan, step: Option<usize>) -> TokenStream {
    let stores: Vec<(&Update, Store)> = graph
        .updates
        .iter()
        .zip(plan.stores.iter().copied())
        .filter(|(update, _)| update.step == step)
        .collect();
    let training = step.and_then(|step| graph.steps.get(step));
    if stores.is_empty() && training.is_none() {
        return TokenStream::new();
    }
    let vis = &graph.vis;
    let workspace = workspace_name(graph);
    let ws = super::super::workspace_param(graph);
    let (roots, _) = super::super::step_roots(&stores, training.map(|step| step.loss));
    let needed = graph.reachable(roots);
    let statements = straight_line(graph, plan, &needed);
    let inputs = entry_params(graph, &needed);
    let params: Vec<TokenStream> = inputs
        .iter()
        .map(|(name, ty)| quote! { #name: #ty })
        .collect();
    let args = inputs.iter().map(|(name, _)| name);
    let (snapshots, assigns) = stores_code(graph, plan, &stores);
    let updated: Vec<String> = stores
        .iter()
        .filter(|(update, _)| !graph.state.contains(&update.variable))
        .map(|(update, _)| format!("`{}`", local(graph, update.variable)))
        .collect();
    let Some(training) = training else {
        let doc = format!(
            " Computes the new values of {} from the current ones, then stores them all. \
             Intermediate values go to `{ws}`; nothing is allocated and nothing can fail.",
            updated.join(", ")
        );
        let stack_doc = format!(
            " As [`Self::update_with`], with a workspace on the stack \
             ([`Self::WORKSPACE_BYTES`] bytes). Updates {}.",
            updated.join(", ")
        );
        return quote! {
            #[doc = #doc]
            #vis fn update_with(&mut self, #ws: &mut #workspace, #(#params),*) {
                let __ws = #ws;
                #(#statements)*
                #(#snapshots)*
                #(#assigns)*
            }

            #[doc = #stack_doc]
            #vis fn update(&mut self, #(#params),*) {
                let mut __ws = #workspace::new();
                self.update_with(&mut __ws, #(#args),*);
            }
        };
    };
    let name = &training.name;
    let with = format_ident!("{}_with", name);
    let loss = local(graph, training.loss);
    let loss_name = training
        .loss_name
        .as_ref()
        .map_or_else(|| "the loss".to_string(), |name| format!("`{name}`"));
    let doc = format!(
        " One training step: computes {loss_name} and its gradients, updates {}, and returns \
         the loss, as computed before the update. The backward pass was derived when the \
         crate compiled; intermediate values go to `{ws}`, so nothing is allocated and nothing \
         can fail.",
        updated.join(", ")
    );
    let stack_doc = format!(
        " As [`Self::{with}`], with a workspace on the stack ([`Self::WORKSPACE_BYTES`] bytes)."
    );
    quote! {
        #[doc = #doc]
        #vis fn #with(&mut self, #ws: &mut #workspace, #(#params),*) -> f32 {
            let __ws = #ws;
            #(#statements)*
            #(#snapshots)*
            #(#assigns)*
            #loss
        }

        #[doc = #stack_doc]
        #vis fn #name(&mut self, #(#params),*) -> f32 {
            let mut __ws = #workspace::new();
            self.#with(&mut __ws, #(#args),*)
        }
    }
}

/// The copies of variables read as another's new value (`a = b; b = a;`),
/// taken before any store, and the stores themselves.
fn stores_code(
    graph: &Graph,
    plan: &Plan,
    stores: &[(&Update, Store)],
) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let p = private();
    let mut snapshots = Vec::new();
    let mut assigns = Vec::new();
    for &(update, store) in stores {
        let variable = local(graph, update.variable);
        let shape = graph.shape(update.variable);
        let target = flatten(&quote! { self.#variable }, shape.rank(), true);
        let len: usize = shape.as_fixed().unwrap_or_default().iter().product();
        match store {
            Store::Unchanged | Store::InPlace => {}
            Store::Assign if shape.is_scalar() => {
                let value = local(graph, update.value);
                assigns.push(quote! { self.#variable = #value; });
            }
            Store::Assign => {
                let source = slice_operand(graph, plan, update.value);
                assigns.push(quote! { #p::flat::copy(#source, #target); });
            }
            Store::Snapshot(slot) => {
                let slot = format_ident!("s{}", slot);
                if shape.is_scalar() {
                    let value = local(graph, update.value);
                    snapshots.push(quote! { __ws.#slot[0] = #value; });
                    assigns.push(quote! { self.#variable = __ws.#slot[0]; });
                } else {
                    let source = slice_operand(graph, plan, update.value);
                    snapshots.push(quote! { #p::flat::copy(#source, &mut __ws.#slot[..#len]); });
                    assigns.push(quote! { #p::flat::copy(&__ws.#slot[..#len], #target); });
                }
            }
        }
    }
    (snapshots, assigns)
}
