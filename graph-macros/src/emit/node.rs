//! One `let` per node: the kernel call (or plain scalar arithmetic) that
//! computes it.
//!
//! ```text
//! let h: Array<f32, Ix2> = kernels::elementwise::add(__g4_matmul.view(), b.view());
//! let p: Array<f32, Ix2> = kernels::softmax::softmax(h.view(), 1usize);
//! let loss: f32 = kernels::loss::mse(p.view(), y.view());
//! ```
//!
//! A kernel whose result is a scalar returns a rank-0 array; the statement
//! unwraps it with `Array0::into_scalar`, so every scalar node is a plain
//! Rust scalar.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use super::{array_type, f32_literal, local, operand, private, shape_expr, size_expr};
use crate::ir::{Binary, DType, Graph, NodeId, Op, Padding, Unary};
use crate::shape::{self, Dim};

pub fn statement(graph: &Graph, id: NodeId) -> TokenStream {
    let p = private();
    let node = graph.node(id);
    let name = local(graph, id);
    let result_shape = graph.shape(id);
    let ty = array_type(result_shape, node.dtype);
    let span = node.span.start;
    let all_scalar = node.operands.iter().all(|&o| graph.shape(o).is_scalar());
    let k = quote_spanned! {span=> #p::kernels };
    match &node.op {
        Op::Input => return TokenStream::new(),
        Op::Variable => {
            return if result_shape.is_scalar() {
                quote! { let #name: f32 = self.#name; }
            } else {
                quote! { let #name = self.#name.view(); }
            };
        }
        Op::Constant(tensor) => {
            if result_shape.is_scalar() {
                let value = f32_literal(tensor.values[0]);
                return quote! { let #name: f32 = #value; };
            }
            let values = tensor.values.iter().map(|&v| f32_literal(v));
            let dims = shape_expr(&tensor.shape);
            return quote_spanned! {span=>
                let #name = #k::constant::view(&[#(#values),*], #dims);
            };
        }
        // Scalar arithmetic is plain Rust: no arrays, no kernel calls.
        Op::Binary(binary @ (Binary::Add | Binary::Sub | Binary::Mul | Binary::Div))
            if all_scalar =>
        {
            let (l, r) = (
                local(graph, node.operands[0]),
                local(graph, node.operands[1]),
            );
            let operator = match binary {
                Binary::Add => quote! { + },
                Binary::Sub => quote! { - },
                Binary::Mul => quote! { * },
                _ => quote! { / },
            };
            return quote_spanned! {span=> let #name: f32 = #l #operator #r; };
        }
        Op::Unary(Unary::Neg) if all_scalar => {
            let x = local(graph, node.operands[0]);
            return quote_spanned! {span=> let #name: f32 = -#x; };
        }
        _ => {}
    }
    let operands: Vec<TokenStream> = node.operands.iter().map(|&o| operand(graph, o)).collect();
    let call = match &node.op {
        Op::Unary(_) | Op::Binary(_) | Op::Compare(_) | Op::Select => {
            elementwise(&k, &node.op, &operands)
        }
        Op::Reduce { .. }
        | Op::ArgMax { .. }
        | Op::Softmax { .. }
        | Op::LogSoftmax { .. }
        | Op::LogSumExp { .. }
        | Op::Mse
        | Op::SoftmaxCrossEntropy => reduction(&k, graph, id, &operands),
        Op::Transpose(_)
        | Op::Reshape(_)
        | Op::BroadcastTo(_)
        | Op::Concat { .. }
        | Op::Slice { .. }
        | Op::ExpandDims { .. }
        | Op::Squeeze(_) => movement(&k, graph, id, &operands),
        _ => network(&k, graph, id, &operands),
    };
    let value = if result_shape.is_scalar() && !returns_scalar(&node.op) {
        // The kernel returned a rank-0 array.
        let elem = super::element(node.dtype);
        quote! { #p::ndarray::Array0::<#elem>::into_scalar(#call) }
    } else {
        call
    };
    quote_spanned! {span=> let #name: #ty = #value; }
}

fn elementwise(k: &TokenStream, op: &Op, operands: &[TokenStream]) -> TokenStream {
    let kernel = ident(op.word());
    match op {
        Op::Unary(unary) => {
            let x = &operands[0];
            match unary {
                Unary::Neg => quote! { #k::elementwise::neg(#x) },
                Unary::Pow(power) => {
                    let power = f32_literal(power.get());
                    quote! { #k::unary::pow(#x, #power) }
                }
                Unary::LeakyRelu(alpha) => {
                    let alpha = f32_literal(alpha.get());
                    quote! { #k::unary::leaky_relu(#x, #alpha) }
                }
                Unary::Clip(lo, hi) => {
                    let (lo, hi) = (f32_literal(lo.get()), f32_literal(hi.get()));
                    quote! { #k::unary::clip(#x, #lo, #hi) }
                }
                _ => quote! { #k::unary::#kernel(#x) },
            }
        }
        Op::Binary(Binary::Maximum | Binary::Minimum) | Op::Compare(_) | Op::Select => {
            quote! { #k::binary::#kernel(#(#operands),*) }
        }
        _ => quote! { #k::elementwise::#kernel(#(#operands),*) },
    }
}

fn reduction(k: &TokenStream, graph: &Graph, id: NodeId, operands: &[TokenStream]) -> TokenStream {
    let node = graph.node(id);
    let kernel = ident(node.op.word());
    let x = &operands[0];
    match &node.op {
        Op::Reduce {
            axes: which,
            keep_dims,
            ..
        } => {
            let axes = resolved_axes(graph, node.operands[0], which.as_deref());
            quote! { #k::reduce::#kernel(#x, &[#(#axes),*], #keep_dims) }
        }
        Op::ArgMax { axis } => {
            let axis = resolved_axis(graph, node.operands[0], *axis);
            quote! { #k::reduce::argmax(#x, #axis) }
        }
        Op::Softmax { axis } | Op::LogSoftmax { axis } => {
            let axis = resolved_axis(graph, node.operands[0], *axis);
            quote! { #k::softmax::#kernel(#x, #axis) }
        }
        Op::LogSumExp { axis, keep_dims } => {
            let axis = resolved_axis(graph, node.operands[0], *axis);
            quote! { #k::softmax::logsumexp(#x, #axis, #keep_dims) }
        }
        Op::SoftmaxCrossEntropy if graph.node(node.operands[1]).dtype == DType::Usize => {
            let labels = &operands[1];
            let label_name = super::describe(graph, node.operands[1]);
            quote! { #k::loss::softmax_cross_entropy_indices(#x, #labels, #label_name)? }
        }
        _ => quote! { #k::loss::#kernel(#(#operands),*) },
    }
}

fn movement(k: &TokenStream, graph: &Graph, id: NodeId, operands: &[TokenStream]) -> TokenStream {
    let node = graph.node(id);
    let kernel = ident(node.op.word());
    let input = graph.shape(node.operands[0]);
    let x = &operands[0];
    match &node.op {
        Op::Transpose(order) => {
            let order: Vec<usize> = match order {
                None => (0..input.rank()).rev().collect(),
                Some(order) => shape::axes(Some(order), input.rank()).unwrap_or_default(),
            };
            quote! { #k::movement::permute(#x, &[#(#order),*]) }
        }
        Op::Concat { axis } => {
            let axis = resolved_axis(graph, node.operands[0], *axis);
            quote! { #k::movement::concat(&[#(#operands),*], #axis) }
        }
        Op::Slice { axis, start, end } => {
            let at = resolved_axis(graph, node.operands[0], *axis);
            let size = match input.0.get(at) {
                Some(Dim::Fixed(size)) => i64::try_from(*size).unwrap_or(i64::MAX),
                _ => 0,
            };
            let bound = |b: i64| usize::try_from(if b < 0 { b + size } else { b }).unwrap_or(0);
            let (from, to) = (bound(*start), bound(*end));
            quote! { #k::movement::slice(#x, #at, #from, #to) }
        }
        Op::ExpandDims { axis } => {
            let at = shape::axis(*axis, input.rank() + 1).unwrap_or(0);
            quote! { #k::movement::expand_dims(#x, #at) }
        }
        Op::Squeeze(which) => {
            let axes: Vec<usize> = match which {
                Some(list) => shape::axes(Some(list), input.rank()).unwrap_or_default(),
                None => (0..input.rank())
                    .filter(|&i| input.0[i] == Dim::Fixed(1))
                    .collect(),
            };
            quote! { #k::movement::squeeze(#x, &[#(#axes),*]) }
        }
        // `reshape` and `broadcast_to` take the result's sizes.
        _ => {
            let sizes = graph.shape(id).0.iter().map(size_expr);
            quote! { #k::movement::#kernel(#x, &[#(#sizes),*]) }
        }
    }
}

fn network(k: &TokenStream, graph: &Graph, id: NodeId, operands: &[TokenStream]) -> TokenStream {
    let node = graph.node(id);
    let kernel = ident(node.op.word());
    match &node.op {
        Op::MatMul => {
            let ranks = (
                graph.shape(node.operands[0]).rank(),
                graph.shape(node.operands[1]).rank(),
            );
            let (module, kernel) = match ranks {
                (2, 2) => (quote! { linalg }, quote! { matmul }),
                (2, 1) => (quote! { linalg }, quote! { matvec }),
                (1, 2) => (quote! { linalg }, quote! { vecmat }),
                (1, 1) => (quote! { linalg }, quote! { dot }),
                (3, 3) => (quote! { batched }, quote! { batch_matmul }),
                _ => (quote! { batched }, quote! { batch_matmul_shared }),
            };
            quote! { #k::#module::#kernel(#(#operands),*) }
        }
        Op::Conv2d {
            strides: [sh, sw],
            padding,
            dilation: [dh, dw],
        } => {
            let padding = padding_expr(*padding);
            quote! { #k::conv::conv2d(#(#operands,)* (#sh, #sw), #padding, (#dh, #dw)) }
        }
        Op::Pool2d {
            window: [wh, ww],
            strides: [sh, sw],
            padding,
            ..
        } => {
            let padding = padding_expr(*padding);
            quote! { #k::conv::#kernel(#(#operands,)* (#wh, #ww), (#sh, #sw), #padding) }
        }
        Op::BatchNorm { epsilon } | Op::LayerNorm { epsilon } => {
            let epsilon = f32_literal(epsilon.get());
            quote! { #k::nn::#kernel(#(#operands,)* #epsilon) }
        }
        _ => {
            // `gather`: the only remaining op, and the only one that can
            // fail on data (an index out of range).
            let indices_name = super::describe(graph, node.operands[1]);
            quote! { #k::nn::gather(#(#operands,)* #indices_name)? }
        }
    }
}

/// Kernels that return a plain scalar rather than a rank-0 array.
fn returns_scalar(op: &Op) -> bool {
    matches!(op, Op::Mse | Op::MatMul)
}

fn ident(name: &str) -> proc_macro2::Ident {
    proc_macro2::Ident::new(name, Span::call_site())
}

fn resolved_axis(graph: &Graph, operand: NodeId, axis: i64) -> usize {
    // `check` validated the axis against this operand's rank.
    shape::axis(axis, graph.shape(operand).rank()).unwrap_or(0)
}

fn resolved_axes(graph: &Graph, operand: NodeId, axes: Option<&[i64]>) -> Vec<usize> {
    shape::axes(axes, graph.shape(operand).rank()).unwrap_or_default()
}

fn padding_expr(padding: Padding) -> TokenStream {
    let p = private();
    match padding {
        Padding::Valid => quote! { #p::kernels::conv::Padding::Valid },
        Padding::Same => quote! { #p::kernels::conv::Padding::Same },
    }
}
