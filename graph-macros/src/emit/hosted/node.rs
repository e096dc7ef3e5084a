//! One statement per node: the kernel call (or plain scalar arithmetic) that
//! computes it, into its workspace slot or over the operand the plan lets it
//! overwrite, and the `let` binding its value.
//!
//! ```text
//! kernels::linalg::matmul_into(x.view(), w.view(), __ws.s0.out([n, 3]));
//! let h = __ws.s0.get([n, 3]);
//! kernels::softmax::softmax_into(h.view(), 1usize, __ws.s1.out([n, 3]));
//! kernels::unary::exp_inplace(__ws.s1.out([n, 3]));     // exp(softmax(h))
//! let p = __ws.s1.get([n, 3]);
//! let loss: f32 = kernels::loss::mse(p.view(), y.view());
//! ```
//!
//! A kernel whose result is a scalar either returns it (`mse`, `dot`) or
//! writes it into a slot read back with `Slot::scalar`, so every scalar node
//! is a plain Rust scalar.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

use super::super::{f32_literal, local, private, shape_expr, size_expr};
use super::operand;
use crate::ir::{Graph, NodeId, Op};
use crate::ops::kernels::{Form, CONSTANT_VIEW};
use crate::ops::{At, Call};
use crate::plan::{Plan, Storage};

/// The statement computing node `id`. `bind` says whether a later statement
/// reads the value through its local: when not (a value only ever
/// overwritten in place, a variable only ever updated in place), the
/// statement binds none, so the expansion has no unused variable.
pub fn statement(graph: &Graph, plan: &Plan, id: NodeId, bind: bool) -> TokenStream {
    let node = graph.node(id);
    let name = local(graph, id);
    let result_shape = graph.shape(id);
    let span = node.span.start;
    // The plan decides which nodes are plain arithmetic; emission follows it.
    let scalar_arithmetic = crate::plan::is_scalar_arithmetic(graph, id.0);
    if node.op.is_leaf() {
        return if bind {
            leaf(graph, id)
        } else {
            TokenStream::new()
        };
    }
    // Scalar arithmetic is plain Rust: no arrays, no kernel calls.
    if scalar_arithmetic {
        let operands: Vec<_> = node.operands.iter().map(|&o| local(graph, o)).collect();
        if let Some(value) = node
            .op
            .elementwise()
            .and_then(|op| op.scalar_arithmetic(&operands))
        {
            return quote_spanned! {span=> let #name: f32 = #value; };
        }
    }
    if let Some(in_place) = in_place(graph, plan, id, bind) {
        return in_place;
    }
    // A transposed matrix as a view of its operand: no slot, no copy.
    if plan.storage[id.0] == Storage::Local && plan.views[id.0] {
        let base = local(graph, node.operands[0]);
        return if bind {
            quote_spanned! {span=> let #name = #base.reversed_axes(); }
        } else {
            TokenStream::new()
        };
    }
    let operands: Vec<TokenStream> = node.operands.iter().map(|&o| operand(graph, o)).collect();
    let at = At::new(graph, id);
    let Some(family) = node.op.family() else {
        return TokenStream::new();
    };
    let call =
        packed_product(graph, plan, id, &operands).unwrap_or_else(|| family.emit(at, operands));
    let question = call.fallible.then(|| quote! { ? });
    let args = &call.args;
    match plan.storage[id.0] {
        // (`Variable` values are always computed in place, above.)
        Storage::Local | Storage::Variable => {
            // A kernel returning a plain scalar.
            let kernel = call.kernel.path(Form::Value);
            quote_spanned! {span=> let #name: f32 = #kernel(#(#args),*)#question; }
        }
        Storage::Slot(slot) => {
            let kernel = call.kernel.path(Form::Into);
            let slot = format_ident!("s{}", slot);
            let shape = runtime_shape(result_shape);
            // `__ws` keeps the expansion's span, visible from `macro_rules!`.
            let out = quote! { __ws.#slot.out(#shape) };
            let write = quote_spanned! {span=> #kernel(#(#args,)* #out)#question; };
            let read = if !bind {
                TokenStream::new()
            } else if result_shape.is_scalar() {
                let elem = super::super::element(node.dtype);
                quote! { let #name: #elem = __ws.#slot.scalar(); }
            } else {
                quote! { let #name = __ws.#slot.get(#shape); }
            };
            quote! { #write #read }
        }
    }
}

/// The statement binding a leaf's value: a view of a variable or a
/// constant, or a scalar. Inputs are the entry point's parameters already.
fn leaf(graph: &Graph, id: NodeId) -> TokenStream {
    let node = graph.node(id);
    let name = local(graph, id);
    let span = node.span.start;
    let view = CONSTANT_VIEW.path(Form::Value);
    let scalar = graph.shape(id).is_scalar();
    match &node.op {
        Op::Variable if scalar => quote! { let #name: f32 = self.#name; },
        Op::Variable => quote! { let #name = self.#name.view(); },
        Op::Constant(tensor) if scalar => {
            let value = f32_literal(tensor.values[0]);
            quote! { let #name: f32 = #value; }
        }
        Op::Constant(tensor) => {
            let dims = shape_expr(&tensor.shape);
            if let Some(data) = super::super::constant_data(graph, id) {
                return quote_spanned! {span=>
                    let #name = #view(#data, #dims);
                };
            }
            let values = tensor.values.iter().map(|&v| f32_literal(v));
            quote_spanned! {span=>
                let #name = #view(&[#(#values),*], #dims);
            }
        }
        // Inputs are the entry point's parameters; ops are not leaves.
        Op::Input
        | Op::Elementwise(_)
        | Op::Reduction(_)
        | Op::Loss(_)
        | Op::Linalg(_)
        | Op::Movement(_)
        | Op::Nn(_)
        | Op::Autodiff(_) => TokenStream::new(),
    }
}

/// The statement of a node the plan computes over an operand's buffer (or
/// a variable's), if node `id` is one: the family's in-place form
/// ([`crate::ops::elementwise::Elementwise::emit_in_place`]) writing into
/// that buffer, and the `let` reading the result back.
fn in_place(graph: &Graph, plan: &Plan, id: NodeId, bind: bool) -> Option<TokenStream> {
    let target = plan.overwrites[id.0]?;
    let node = graph.node(id);
    let name = local(graph, id);
    let shape = runtime_shape(graph.shape(id));
    let (destination, read) = match plan.storage[id.0] {
        Storage::Slot(slot) => {
            let slot = format_ident!("s{}", slot);
            let read = bind.then(|| quote! { let #name = __ws.#slot.get(#shape); });
            (quote! { __ws.#slot.out(#shape) }, read)
        }
        Storage::Variable => {
            let variable = local(graph, target);
            (quote! { self.#variable.view_mut() }, None)
        }
        Storage::Local => return None,
    };
    // The plan overwrites operands of elementwise ops, and variables with
    // fused updates (`optimize::fuse_updates`).
    let write = match &node.op {
        crate::ir::Op::Linalg(linalg) => {
            linalg.emit_in_place(&destination, &|i| operand(graph, node.operands[i]))?
        }
        op => op
            .elementwise()?
            .emit_in_place(At::new(graph, id), target, destination, &|o| {
                operand(graph, o)
            })?,
    };
    let span = node.span.start;
    let write = quote_spanned! {span=> #write; };
    Some(quote! { #write #read })
}

/// A shape at run time: literal sizes, and symbols as the sizes the call
/// bound (`__size_n`).
pub fn runtime_shape(shape: &crate::shape::Shape) -> TokenStream {
    let p = private();
    let sizes: Vec<TokenStream> = shape.0.iter().map(size_expr).collect();
    match shape.rank() {
        0 => quote! { #p::ndarray::Ix0() },
        1..=6 => quote! { [#(#sizes),*] },
        _ => quote! { #p::ndarray::IxDyn(&[#(#sizes),*]) },
    }
}

/// A matrix product (plain, or a dense node) whose weights keep a packed
/// copy (`Plan::packed`): the family's packed form, which reads the copy.
fn packed_product(
    graph: &Graph,
    plan: &Plan,
    id: NodeId,
    operands: &[TokenStream],
) -> Option<Call> {
    let node = graph.node(id);
    let w = *node.operands.get(1)?;
    if !plan.packed[w.0] {
        return None;
    }
    let field = super::api::packed_field(graph, w);
    node.op.linalg()?.emit_packed(
        At::new(graph, id),
        operands.to_vec(),
        quote! { &self.#field },
    )
}
