//! The methods that change the variables: `update`/`update_with` for the
//! `w = ..;` updates, and one method per training step, which also returns
//! the loss its forward pass computed.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::super::{local, private, workspace_param};
use super::entry::{body, errors_doc, input_generics, inputs_sentence, workspace_name, Body};
use super::node;
use crate::ir::{Graph, NodeId};
use crate::plan::{Plan, Store};

/// `update_with` and `update`. For `b = b + w; w = w - lr * g; a = b;`:
///
/// ```text
/// pub fn update_with(&mut self, __ws: &mut TrainWorkspace, g: ArrayView<'_, f32, Ix1>, lr: f32)
///     -> Result<(), Error> {
///     ..                                              // input checks
///     let b = self.b.view();
///     let w = self.w.view();
///     // `a` takes b's current value: b + w cannot overwrite b.
///     kernels::elementwise::add_into(b.view(), w.view(), __ws.s0.out([3]));
///     let __g5_add = __ws.s0.get([3]);
///     // Nothing reads w after this: computed in w.
///     kernels::fused::map3_inplace(self.w.view_mut(), aview0(&lr), g.view(),
///         |__e0, __e1, __e2| (__e0 - (__e1 * __e2)));
///     // b changes too: its current value is copied first.
///     __ws.s1.out([3]).assign(&b);
///     let __new_a = __ws.s1.get([3]);
///     self.b.assign(&__g5_add);
///     self.a.assign(&__new_a);
///     Ok(())
/// }
/// ```
///
/// Every new value is computed (or copied) before any is stored, and
/// nothing is allocated: see [`Store`] for the cases.
pub fn update_methods(graph: &Graph, plan: &Plan) -> TokenStream {
    let mut methods = step_methods(graph, plan, None);
    for step in 0..graph.steps.len() {
        methods.extend(step_methods(graph, plan, Some(step)));
    }
    methods
}

/// `update_with`/`update` for the `w = ..;` updates (`step` `None`), or a
/// training step's `<name>_with`/`<name>`, which also returns the loss its
/// forward pass computed.
fn step_methods(graph: &Graph, plan: &Plan, step: Option<usize>) -> TokenStream {
    let chosen: Vec<(&crate::ir::Update, Store)> = graph
        .updates
        .iter()
        .zip(plan.stores.iter().copied())
        .filter(|(update, _)| update.step == step)
        .collect();
    let training = step.and_then(|step| graph.steps.get(step));
    if chosen.is_empty() && training.is_none() {
        return TokenStream::new();
    }
    let p = private();
    let vis = &graph.vis;
    let lifetime = quote! { 'i };
    let stores = chosen;
    let loss = training.map(|step| step.loss);
    let returned: Vec<NodeId> = training.map_or_else(Vec::new, |step| {
        step.outputs
            .iter()
            .map(|&k| graph.outputs[k].node)
            .collect()
    });
    let (mut roots, mut read_after) = super::super::step_roots(&stores, loss);
    roots.extend(&returned);
    read_after.extend(&returned);
    let body = body(graph, plan, &roots, &read_after, &lifetime);
    let workspace = workspace_name(graph);
    let (finals, assigns) = stores_code(graph, &stores);
    let Some(training) = training else {
        let inputs = inputs_sentence(&body);
        let errors = errors_doc(&body);
        let generics = input_generics(&body, &[]);
        let ws = workspace_param(graph);
        let uses = format!(" Uses `{ws}` for intermediate values.");
        let Body {
            params,
            views,
            names,
            statements,
            ..
        } = body;
        let names_list: Vec<String> = stores
            .iter()
            .map(|(u, _)| format!("`{}`", local(graph, u.variable)))
            .collect();
        let summary = format!(
            " Computes the new values of {} from the current ones, then stores them all.",
            names_list.join(", ")
        );
        return quote! {
            #[doc = #summary]
            #[doc = #inputs]
            #[doc = #uses]
            #errors
            #vis fn update_with #generics(&mut self, #ws: &mut #workspace, #(#params),*)
                -> ::core::result::Result<(), #p::Error> {
                let __ws = #ws;
                #(#views)*
                #(#statements)*
                #(#finals)*
                #(#assigns)*
                ::core::result::Result::Ok(())
            }

            #[doc = #summary]
            #[doc = #inputs]
            /// Allocates a fresh workspace; reuse one with [`Self::update_with`].
            #errors
            #vis fn update #generics(&mut self, #(#params),*)
                -> ::core::result::Result<(), #p::Error> {
                #(#views)*
                let mut __ws = #workspace::default();
                self.update_with(&mut __ws, #(#names),*)
            }
        };
    };
    training_step(graph, training, &stores, &returned, body, &finals, &assigns)
}

/// The doc of what a step with `outputs = [..]` returns.
fn returns_doc(graph: &Graph, training: &crate::train::Step) -> String {
    let listed: Vec<String> = training
        .outputs
        .iter()
        .map(|&k| format!("`{}`", graph.outputs[k].name))
        .collect();
    format!(
        " Returns the loss and {}, as their own methods compute them from the variables \
         before the update.",
        listed.join(", ")
    )
}

/// The generics of a step's plain form and of its `_with` form, which has
/// the lifetime `'a` of its workspace when it `returns_views`.
fn step_generics(body: &Body, returns_views: bool) -> (TokenStream, TokenStream) {
    let plain = input_generics(body, &[]);
    if returns_views {
        (plain, input_generics(body, &[quote! { 'a }]))
    } else {
        (plain.clone(), plain)
    }
}

/// A training step's `<name>_with` and `<name>`. They return the loss; with
/// `outputs = [..]`, also the `returned` nodes, as views into the workspace
/// from `<name>_with` (computed before the update, by the statements their
/// own methods run) and as owned copies from `<name>`.
fn training_step(
    graph: &Graph,
    training: &crate::train::Step,
    stores: &[(&crate::ir::Update, Store)],
    returned: &[NodeId],
    body: Body,
    finals: &[TokenStream],
    assigns: &[TokenStream],
) -> TokenStream {
    let p = private();
    let vis = &graph.vis;
    let a = quote! { 'a };
    let workspace = workspace_name(graph);
    let name = &training.name;
    let with = format_ident!("{}_with", name);
    let loss = local(graph, training.loss);
    let summary = step_summary(graph, training, stores);
    let inputs = inputs_sentence(&body);
    let errors = errors_doc(&body);
    let (plain_generics, with_generics) = step_generics(&body, !returned.is_empty());
    let ws = workspace_param(graph);
    let Body {
        params,
        views: input_views,
        names,
        statements,
        ..
    } = body;
    let values: Vec<_> = returned.iter().map(|&id| local(graph, id)).collect();
    let copies: Vec<_> = (0..returned.len())
        .map(|i| format_ident!("__output{}", i))
        .collect();
    let owned = returned.iter().zip(&copies).map(|(&id, value)| {
        if graph.shape(id).is_scalar() {
            quote! { #value }
        } else {
            quote! { #value.to_owned() }
        }
    });
    let plain_doc = format!(" Allocates a fresh workspace; reuse one with [`Self::{with}`].");
    let (workspace_ref, view_ty, with_value, owned_ty, plain_body, returns, with_doc);
    if returned.is_empty() {
        workspace_ref = quote! { &mut #workspace };
        view_ty = quote! { f32 };
        with_value = quote! { __loss };
        owned_ty = quote! { f32 };
        plain_body = quote! { self.#with(&mut __ws, #(#names),*) };
        returns = None;
        with_doc = format!(
            " Uses `{ws}` for intermediate values: allocates nothing once it has served \
             a step of the same sizes; [`Self::{name}`] allocates one per call."
        );
    } else {
        let views = returned
            .iter()
            .map(|&id| super::entry::view_return(graph, id, &a));
        let owned_types = returned
            .iter()
            .map(|&id| super::super::array_type(graph.shape(id), graph.node(id).dtype));
        workspace_ref = quote! { &'a mut #workspace };
        view_ty = quote! { (f32, #(#views),*) };
        with_value = quote! { (__loss, #(#values),*) };
        owned_ty = quote! { (f32, #(#owned_types),*) };
        plain_body = quote! {
            let (__loss, #(#copies),*) = self.#with(&mut __ws, #(#names),*)?;
            ::core::result::Result::Ok((__loss, #(#owned),*))
        };
        returns = Some(returns_doc(graph, training));
        with_doc = format!(
            " The outputs are views into `{ws}`; nothing is allocated once it has served \
             a step of the same sizes. [`Self::{name}`] allocates a workspace and copies."
        );
    }
    let returns = returns.map(|text| quote! { #[doc = #text] });
    quote! {
        #[doc = #summary]
        #returns
        #[doc = #inputs]
        #[doc = #with_doc]
        #errors
        #vis fn #with #with_generics(&mut self, #ws: #workspace_ref, #(#params),*)
            -> ::core::result::Result<#view_ty, #p::Error> {
            let __ws = #ws;
            #(#input_views)*
            #(#statements)*
            let __loss: f32 = #loss;
            #(#finals)*
            #(#assigns)*
            ::core::result::Result::Ok(#with_value)
        }

        #[doc = #summary]
        #returns
        #[doc = #inputs]
        #[doc = #plain_doc]
        #errors
        #vis fn #name #plain_generics(&mut self, #(#params),*)
            -> ::core::result::Result<#owned_ty, #p::Error> {
            #(#input_views)*
            let mut __ws = #workspace::default();
            #plain_body
        }
    }
}

/// The statements storing each update's new value (after every value is
/// computed) into its variable: `finals` copy what must be copied first,
/// `assigns` store.
fn stores_code(
    graph: &Graph,
    stores: &[(&crate::ir::Update, Store)],
) -> (Vec<TokenStream>, Vec<TokenStream>) {
    let mut finals = Vec::new();
    let mut assigns = Vec::new();
    for &(update, store) in stores {
        let variable = local(graph, update.variable);
        let new = format_ident!("__new_{}", variable);
        let value = local(graph, update.value);
        let shape = graph.shape(update.variable);
        match store {
            Store::Unchanged | Store::InPlace => {}
            // Scalars are copied to locals first, so that `a = b; b = a;` swaps.
            Store::Assign if shape.is_scalar() => {
                finals.push(quote! { let #new: f32 = #value; });
                assigns.push(quote! { self.#variable = #new; });
            }
            Store::Assign => assigns.push(quote! { self.#variable.assign(&#value); }),
            Store::Snapshot(slot) => {
                let slot = format_ident!("s{}", slot);
                let shape = node::runtime_shape(shape);
                finals.push(quote! {
                    __ws.#slot.out(#shape).assign(&#value);
                    let #new = __ws.#slot.get(#shape);
                });
                assigns.push(quote! { self.#variable.assign(&#new); });
            }
        }
    }
    (finals, assigns)
}

/// The first line of a step's docs: what it computes and updates.
fn step_summary(
    graph: &Graph,
    training: &crate::train::Step,
    stores: &[(&crate::ir::Update, Store)],
) -> String {
    let trained: Vec<String> = stores
        .iter()
        .filter(|(u, _)| !graph.state.contains(&u.variable))
        .map(|(u, _)| format!("`{}`", local(graph, u.variable)))
        .collect();
    format!(
        " One training step: computes `{}` and its gradients, updates {}, and returns the loss \
         computed before the update.",
        describe_loss(training),
        trained.join(", ")
    )
}

/// How a step's docs name its loss.
fn describe_loss(step: &crate::train::Step) -> String {
    step.loss_name
        .as_ref()
        .map_or_else(|| "the loss".to_string(), ToString::to_string)
}
