//! One statement per node of a `#[no_std]` graph: a leaf bound as a slice,
//! plain scalar arithmetic, or its family's slice kernel writing into the
//! node's storage; and [`Bare`], what a family's `emit_bare` is handed.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use super::{
    element, f32_literal, flatten, is_owned_array, local, nested_type, nested_zeros, private, sizes,
};
use crate::ir::{Graph, NodeId, Op};
use crate::ops::elementwise::{scalar_expression, Scalar};
use crate::ops::At;
use crate::plan::{Plan, Storage};

/// Node `id`'s value as a slice, for a kernel.
pub(super) fn slice_operand(graph: &Graph, plan: &Plan, id: NodeId) -> TokenStream {
    let name = local(graph, id);
    let shape = graph.shape(id);
    if shape.is_scalar() {
        quote! { ::core::slice::from_ref(&#name) }
    } else if is_owned_array(graph, plan, id) {
        flatten(&quote! { #name }, shape.rank(), false)
    } else {
        quote! { #name }
    }
}

/// How operand `id` is indexed by the elements of a result of shape `out`:
/// `Same` when it has that shape, otherwise its broadcast strides.
fn broadcast_index(graph: &Graph, id: NodeId, out: &[usize]) -> TokenStream {
    let p = private();
    let operand = sizes(graph, id);
    if operand == out {
        return quote! { #p::flat::Index::Same };
    }
    let own = strides(&operand);
    let lead = out.len() - operand.len().min(out.len());
    let strides: Vec<usize> = (0..out.len())
        .map(|axis| {
            if axis < lead || operand[axis - lead] == 1 {
                0
            } else {
                own[axis - lead]
            }
        })
        .collect();
    quote! { #p::flat::Index::Strided(&[#(#strides),*]) }
}

/// One statement per node: bind a leaf as a slice, compute plain scalar
/// arithmetic, or run a kernel into the node's storage and bind the result.
pub(super) fn statement(graph: &Graph, plan: &Plan, id: NodeId) -> TokenStream {
    let node = graph.node(id);
    let name = local(graph, id);
    let shape = graph.shape(id);
    let span = node.span.start;
    let elem = element(node.dtype);
    match &node.op {
        Op::Input => {
            return if shape.is_scalar() {
                TokenStream::new()
            } else {
                let flat = flatten(&quote! { #name }, shape.rank(), false);
                quote! { let #name: &[#elem] = #flat; }
            };
        }
        Op::Variable => {
            return if shape.is_scalar() {
                quote! { let #name: f32 = self.#name; }
            } else {
                let flat = flatten(&quote! { self.#name }, shape.rank(), false);
                quote! { let #name: &[f32] = #flat; }
            };
        }
        Op::Constant(tensor) => {
            if shape.is_scalar() {
                let value = f32_literal(tensor.values.first().copied().unwrap_or(0.0));
                return quote! { let #name: f32 = #value; };
            }
            if let Some(data) = super::super::constant_data(graph, id) {
                return quote! { let #name: &[f32] = #data; };
            }
            let values = tensor.values.iter().map(|&v| f32_literal(v));
            return quote! { let #name: &[f32] = &[#(#values),*]; };
        }
        Op::Elementwise(_)
        | Op::Reduction(_)
        | Op::Loss(_)
        | Op::Linalg(_)
        | Op::Movement(_)
        | Op::Nn(_)
        | Op::Autodiff(_) => {
            if crate::plan::is_scalar_arithmetic(graph, id.0) {
                return crate::emit::hosted::node::statement(graph, plan, id, true);
            }
        }
    }
    let out = sizes(graph, id);
    let len: usize = out.iter().product();
    let (before, destination, after) = match plan.storage[id.0] {
        Storage::Slot(slot) => {
            let slot = format_ident!("s{}", slot);
            let read = if shape.is_scalar() {
                quote! { let #name: #elem = __ws.#slot[0]; }
            } else {
                quote! { let #name: &[#elem] = &__ws.#slot[..#len]; }
            };
            (TokenStream::new(), quote! { &mut __ws.#slot[..#len] }, read)
        }
        // An update computed over its variable's buffer: nothing reads it
        // but the update, so nothing is bound.
        Storage::Variable => {
            let variable = plan.overwrites[id.0].map(|v| local(graph, v));
            let destination = flatten(&quote! { self.#variable }, shape.rank(), true);
            (TokenStream::new(), destination, TokenStream::new())
        }
        Storage::Local => {
            let zeros = nested_zeros(shape, node.dtype);
            let ty = nested_type(shape, node.dtype);
            let destination = if shape.is_scalar() {
                quote! { ::core::slice::from_mut(&mut #name) }
            } else {
                flatten(&quote! { #name }, shape.rank(), true)
            };
            (
                quote! { let mut #name: #ty = #zeros; },
                destination,
                TokenStream::new(),
            )
        }
    };
    let call = kernel_call(graph, plan, id, &out, &destination);
    quote_spanned! {span=> #before #call; #after }
}

/// The kernel call computing node `id` (of shape `out`) into
/// `destination`: its family's slice kernel.
fn kernel_call(
    graph: &Graph,
    plan: &Plan,
    id: NodeId,
    out: &[usize],
    destination: &TokenStream,
) -> TokenStream {
    let node = graph.node(id);
    let bare = Bare {
        overwrites: plan.overwrites[id.0]
            .and_then(|target| node.operands.iter().position(|&o| o == target)),
        at: At::new(graph, id),
        operands: node
            .operands
            .iter()
            .map(|&o| slice_operand(graph, plan, o))
            .collect(),
        out: out.to_vec(),
        destination: destination.clone(),
    };
    match node.op.family() {
        Some(family) => family.emit_bare(&bare),
        None => Bare::unsupported(),
    }
}

/// A node as the `#[no_std]` emitter hands it to its family: its operands
/// as slices, the result's sizes, and the slice the kernel writes.
pub struct Bare<'g> {
    pub at: At<'g>,
    /// The operand whose buffer `destination` is (a value computed in
    /// place, over a dying slot or a variable it updates), for elementwise
    /// nodes: their kernel then reads that operand from the destination.
    pub overwrites: Option<usize>,
    pub operands: Vec<TokenStream>,
    pub out: Vec<usize>,
    pub destination: TokenStream,
}

impl Bare<'_> {
    /// The sizes of operand `i`.
    pub fn input(&self, i: usize) -> Vec<usize> {
        sizes(self.at.graph, self.at.operand(i))
    }

    /// How operand `id` is indexed by the elements of the result: `Same`
    /// when it has the result's shape, otherwise its broadcast strides.
    pub fn broadcast_index(&self, id: NodeId) -> TokenStream {
        broadcast_index(self.at.graph, id, &self.out)
    }

    /// `(operand, Index)` pairs for an elementwise node's operands.
    pub fn indexed(&self) -> Vec<TokenStream> {
        self.at
            .node()
            .operands
            .iter()
            .zip(&self.operands)
            .map(|(&o, x)| {
                let index = self.broadcast_index(o);
                quote! { (#x, #index) }
            })
            .collect()
    }

    /// `flat::map` with the element expression of a fused or elementwise
    /// node.
    pub fn map(&self, expression: &Scalar) -> TokenStream {
        let p = private();
        let pairs = self.indexed();
        let params: Vec<Ident> = (0..self.operands.len())
            .map(|i| format_ident!("__e{}", i))
            .collect();
        let body = scalar_expression(expression);
        let (out, destination) = (&self.out, &self.destination);
        if let Some(target) = self.overwrites {
            // The overwritten operand is read from the destination, first.
            let others = (0..params.len()).filter(|&i| i != target);
            let pairs = others.clone().map(|i| &pairs[i]);
            let rest: Vec<&Ident> = others.map(|i| &params[i]).collect();
            let own = &params[target];
            let count = rest.len();
            return quote! {
                #p::flat::map_inplace(#destination, [#(#pairs),*], &[#(#out),*],
                    |#own: f32, [#(#rest),*]: [f32; #count]| #body)
            };
        }
        let count = params.len();
        quote! {
            #p::flat::map([#(#pairs),*], &[#(#out),*], #destination,
                |[#(#params),*]: [f32; #count]| #body)
        }
    }

    /// What an op without a slice kernel emits; `check` rejects such graphs
    /// before emission, so this is never compiled.
    pub fn unsupported() -> TokenStream {
        quote! { ::core::compile_error!("op without a slice kernel") }
    }
}

/// Row-major strides of a shape.
pub fn strides(sizes: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; sizes.len()];
    for axis in (0..sizes.len().saturating_sub(1)).rev() {
        strides[axis] = strides[axis + 1] * sizes[axis + 1];
    }
    strides
}

/// `(outer, len, inner)` of an operand of shape `sizes` along `axis`.
pub fn lanes(sizes: &[usize], axis: usize) -> TokenStream {
    let outer: usize = sizes[..axis].iter().product();
    let len = sizes.get(axis).copied().unwrap_or(1);
    let inner: usize = sizes
        .get(axis + 1..)
        .map_or(1, |rest| rest.iter().product());
    quote! { (#outer, #len, #inner) }
}
