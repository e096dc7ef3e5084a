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

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};

use super::{f32_literal, local, operand, private, shape_expr, size_expr};
use crate::ir::{Activation, Binary, DType, Graph, NodeId, Op, Padding, Scalar, Unary};
use crate::plan::{Plan, Storage};
use crate::shape::{self, Dim};

/// A kernel call: `kernels::<module>::<kernel>(<args>)`, written into a
/// workspace slot through its `_into` form.
pub struct Call {
    pub module: &'static str,
    pub kernel: String,
    pub args: Vec<TokenStream>,
    /// The kernel checks data (indices) and returns a `Result`.
    pub fallible: bool,
}

fn call(module: &'static str, kernel: &str, args: Vec<TokenStream>) -> Call {
    Call {
        module,
        kernel: kernel.to_string(),
        args,
        fallible: false,
    }
}

/// The statement computing node `id`. `bind` says whether a later statement
/// reads the value through its local: when not (a value only ever
/// overwritten in place, a variable only ever updated in place), the
/// statement binds none, so the expansion has no unused variable.
pub fn statement(graph: &Graph, plan: &Plan, id: NodeId, bind: bool) -> TokenStream {
    let p = private();
    let node = graph.node(id);
    let name = local(graph, id);
    let result_shape = graph.shape(id);
    let span = node.span.start;
    // The plan decides which nodes are plain arithmetic; emission follows it.
    let scalar_arithmetic = crate::plan::is_scalar_arithmetic(graph, id.0);
    let k = quote_spanned! {span=> #p::kernels };
    if node.op.is_leaf() {
        return if bind {
            leaf(graph, id)
        } else {
            TokenStream::new()
        };
    }
    match &node.op {
        // Scalar arithmetic is plain Rust: no arrays, no kernel calls.
        Op::Binary(binary @ (Binary::Add | Binary::Sub | Binary::Mul | Binary::Div))
            if scalar_arithmetic =>
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
        Op::Unary(Unary::Neg) if scalar_arithmetic => {
            let x = local(graph, node.operands[0]);
            return quote_spanned! {span=> let #name: f32 = -#x; };
        }
        _ => {}
    }
    if let Some(in_place) = in_place(graph, plan, id, bind) {
        return in_place;
    }
    let operands: Vec<TokenStream> = node.operands.iter().map(|&o| operand(graph, o)).collect();
    let call = if let Some(call) = packed_product(graph, plan, id, &operands) {
        call
    } else {
        match &node.op {
            Op::Unary(_) | Op::Binary(_) | Op::Compare(_) | Op::Select => {
                elementwise(&node.op, operands)
            }
            Op::Reduce { .. }
            | Op::ArgMax { .. }
            | Op::Softmax { .. }
            | Op::LogSoftmax { .. }
            | Op::LogSumExp { .. }
            | Op::Mse
            | Op::SoftmaxCrossEntropy => reduction(graph, id, operands),
            Op::Transpose(_)
            | Op::Reshape(_)
            | Op::BroadcastTo(_)
            | Op::Concat { .. }
            | Op::Slice { .. }
            | Op::ExpandDims { .. }
            | Op::Squeeze(_) => movement(graph, id, &operands),
            Op::Dense { bias, activation } => dense(*bias, *activation, operands),
            Op::Fused(expression) => fused(expression, operands),
            _ => network(graph, id, operands),
        }
    };
    let module = Ident::new(call.module, Span::call_site());
    let question = call.fallible.then(|| quote! { ? });
    let args = &call.args;
    match plan.storage[id.0] {
        // (`Variable` values are always computed in place, above.)
        Storage::Local | Storage::Variable => {
            // A kernel returning a plain scalar.
            let kernel = Ident::new(&call.kernel, Span::call_site());
            quote_spanned! {span=> let #name: f32 = #k::#module::#kernel(#(#args),*)#question; }
        }
        Storage::Slot(slot) => {
            let kernel = Ident::new(&format!("{}_into", call.kernel), Span::call_site());
            let slot = format_ident!("s{}", slot);
            let shape = runtime_shape(result_shape);
            // `__ws` keeps the expansion's span, visible from `macro_rules!`.
            let out = quote! { __ws.#slot.out(#shape) };
            let write = quote_spanned! {span=> #k::#module::#kernel(#(#args,)* #out)#question; };
            let read = if !bind {
                TokenStream::new()
            } else if result_shape.is_scalar() {
                let elem = super::element(node.dtype);
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
    let p = private();
    let node = graph.node(id);
    let name = local(graph, id);
    let span = node.span.start;
    let k = quote_spanned! {span=> #p::kernels };
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
            if let Some(data) = super::constant_static(graph, id) {
                return quote_spanned! {span=>
                    let #name = #k::constant::view(&#data, #dims);
                };
            }
            let values = tensor.values.iter().map(|&v| f32_literal(v));
            quote_spanned! {span=>
                let #name = #k::constant::view(&[#(#values),*], #dims);
            }
        }
        _ => TokenStream::new(),
    }
}

/// The statement of a node the plan computes over an operand's buffer, if
/// node `id` is one:
///
/// ```text
/// kernels::unary::relu_inplace(__ws.s0.out([n, 4]));           // relu(h), h in s0
/// let a = __ws.s0.get([n, 4]);
/// kernels::elementwise::sub_inplace(__ws.s1.out([n, 4]), b.view());
/// kernels::fused::map3_inplace(self.w.view_mut(), ndarray::aview0(&lr), g.view(),
///     |__e0, __e1, __e2| (__e0 - (__e1 * __e2)));                // w = w - lr * g
/// ```
///
/// A unary op, or `+ - * /` overwriting its left operand, uses the op's own
/// `_inplace` kernel; anything else (a fused tree, the right operand, both
/// operands, `maximum`) a `fused::mapN_inplace`, whose closure takes the
/// overwritten operand's element first.
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
    let operands = &node.operands;
    let renamed = |call: Call| Call {
        kernel: format!("{}_inplace", call.kernel),
        ..call
    };
    let call = match &node.op {
        Op::Unary(_) => renamed(elementwise(&node.op, vec![destination])),
        Op::Binary(Binary::Add | Binary::Sub | Binary::Mul | Binary::Div)
            if operands[0] == target && operands[1] != target =>
        {
            let other = operand(graph, operands[1]);
            renamed(elementwise(&node.op, vec![destination, other]))
        }
        Op::Binary(binary) => {
            // A tree of one node over the op's distinct operands.
            let mut leaves = operands.clone();
            leaves.dedup();
            let leaf = |o: NodeId| {
                let position = leaves.iter().position(|&l| l == o).unwrap_or(0);
                Box::new(Scalar::Operand(position))
            };
            let expression = Scalar::Binary(*binary, leaf(operands[0]), leaf(operands[1]));
            fused_in_place(graph, &expression, &leaves, target, destination)
        }
        Op::Fused(expression) => fused_in_place(graph, expression, operands, target, destination),
        // The plan overwrites operands of elementwise ops only.
        _ => return None,
    };
    let module = Ident::new(call.module, Span::call_site());
    let kernel = Ident::new(&call.kernel, Span::call_site());
    let args = &call.args;
    let span = node.span.start;
    let p = private();
    let k = quote_spanned! {span=> #p::kernels };
    let write = quote_spanned! {span=> #k::#module::#kernel(#(#args),*); };
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

fn elementwise(op: &Op, mut operands: Vec<TokenStream>) -> Call {
    let kernel = op.word();
    match op {
        Op::Unary(Unary::Neg) => call("elementwise", kernel, operands),
        Op::Unary(unary) => {
            match unary {
                Unary::Pow(power) => operands.push(f32_literal(power.get())),
                Unary::LeakyRelu(alpha) => operands.push(f32_literal(alpha.get())),
                Unary::Clip(lo, hi) => {
                    operands.push(f32_literal(lo.get()));
                    operands.push(f32_literal(hi.get()));
                }
                _ => {}
            }
            call("unary", kernel, operands)
        }
        Op::Binary(Binary::Maximum | Binary::Minimum) | Op::Compare(_) | Op::Select => {
            call("binary", kernel, operands)
        }
        _ => call("elementwise", kernel, operands),
    }
}

fn reduction(graph: &Graph, id: NodeId, mut operands: Vec<TokenStream>) -> Call {
    let node = graph.node(id);
    let kernel = node.op.word();
    match &node.op {
        Op::Reduce {
            axes: which,
            keep_dims,
            ..
        } => {
            let axes = resolved_axes(graph, node.operands[0], which.as_deref());
            operands.push(quote! { &[#(#axes),*] });
            operands.push(quote! { #keep_dims });
            call("reduce", kernel, operands)
        }
        Op::ArgMax { axis } => {
            let axis = resolved_axis(graph, node.operands[0], *axis);
            operands.push(quote! { #axis });
            call("reduce", kernel, operands)
        }
        Op::Softmax { axis } | Op::LogSoftmax { axis } => {
            let axis = resolved_axis(graph, node.operands[0], *axis);
            operands.push(quote! { #axis });
            call("softmax", kernel, operands)
        }
        Op::LogSumExp { axis, keep_dims } => {
            let axis = resolved_axis(graph, node.operands[0], *axis);
            operands.push(quote! { #axis });
            operands.push(quote! { #keep_dims });
            call("softmax", kernel, operands)
        }
        Op::SoftmaxCrossEntropy if graph.node(node.operands[1]).dtype == DType::Usize => {
            let label_name = super::describe(graph, node.operands[1]);
            operands.push(quote! { #label_name });
            Call {
                fallible: true,
                ..call("loss", "softmax_cross_entropy_indices", operands)
            }
        }
        _ => call("loss", kernel, operands),
    }
}

fn movement(graph: &Graph, id: NodeId, operands: &[TokenStream]) -> Call {
    let node = graph.node(id);
    let kernel = node.op.word();
    let input = graph.shape(node.operands[0]);
    let x = &operands[0];
    match &node.op {
        Op::Transpose(order) => {
            let order: Vec<usize> = match order {
                None => (0..input.rank()).rev().collect(),
                Some(order) => shape::axes(Some(order), input.rank()).unwrap_or_default(),
            };
            call(
                "movement",
                "permute",
                vec![x.clone(), quote! { &[#(#order),*] }],
            )
        }
        Op::Concat { axis } => {
            let axis = resolved_axis(graph, node.operands[0], *axis);
            call(
                "movement",
                "concat",
                vec![quote! { &[#(#operands),*] }, quote! { #axis }],
            )
        }
        Op::Slice { axis, start, end } => {
            let at = resolved_axis(graph, node.operands[0], *axis);
            let size = match input.0.get(at) {
                Some(Dim::Fixed(size)) => i64::try_from(*size).unwrap_or(i64::MAX),
                _ => 0,
            };
            let bound = |b: i64| usize::try_from(if b < 0 { b + size } else { b }).unwrap_or(0);
            let (from, to) = (bound(*start), bound(*end));
            call(
                "movement",
                "slice",
                vec![x.clone(), quote! { #at }, quote! { #from }, quote! { #to }],
            )
        }
        Op::ExpandDims { axis } => {
            let at = shape::axis(*axis, input.rank() + 1).unwrap_or(0);
            call("movement", "expand_dims", vec![x.clone(), quote! { #at }])
        }
        Op::Squeeze(which) => {
            let axes: Vec<usize> = match which {
                Some(list) => shape::axes(Some(list), input.rank()).unwrap_or_default(),
                None => (0..input.rank())
                    .filter(|&i| input.0[i] == Dim::Fixed(1))
                    .collect(),
            };
            call(
                "movement",
                "squeeze",
                vec![x.clone(), quote! { &[#(#axes),*] }],
            )
        }
        // `reshape` and `broadcast_to` take the result's shape from `out`.
        _ => call("movement", kernel, vec![x.clone()]),
    }
}

fn network(graph: &Graph, id: NodeId, mut operands: Vec<TokenStream>) -> Call {
    let node = graph.node(id);
    let kernel = node.op.word();
    match &node.op {
        Op::MatMul => {
            let ranks = (
                graph.shape(node.operands[0]).rank(),
                graph.shape(node.operands[1]).rank(),
            );
            let (module, kernel) = match ranks {
                (2, 2) => ("linalg", "matmul"),
                (2, 1) => ("linalg", "matvec"),
                (1, 2) => ("linalg", "vecmat"),
                (1, 1) => ("linalg", "dot"),
                (3, 3) => ("batched", "batch_matmul"),
                _ => ("batched", "batch_matmul_shared"),
            };
            call(module, kernel, operands)
        }
        Op::Conv2d {
            strides: [sh, sw],
            padding,
            dilation: [dh, dw],
        } => {
            operands.push(quote! { (#sh, #sw) });
            operands.push(padding_expr(*padding));
            operands.push(quote! { (#dh, #dw) });
            call("conv", kernel, operands)
        }
        Op::Pool2d {
            window: [wh, ww],
            strides: [sh, sw],
            padding,
            ..
        } => {
            operands.push(quote! { (#wh, #ww) });
            operands.push(quote! { (#sh, #sw) });
            operands.push(padding_expr(*padding));
            call("conv", kernel, operands)
        }
        Op::BatchNorm { epsilon } | Op::LayerNorm { epsilon } => {
            operands.push(f32_literal(epsilon.get()));
            call("nn", kernel, operands)
        }
        _ => {
            // `gather`: the only remaining op, and the only one that can
            // fail on data (an index out of range).
            operands.push({
                let indices_name = super::describe(graph, node.operands[1]);
                quote! { #indices_name }
            });
            Call {
                fallible: true,
                ..call("nn", "gather", operands)
            }
        }
    }
}

/// A matrix product (plain, or a dense node) whose weights keep a packed
/// copy (`Plan::packed`): `packed::dense_packed(x, w, &self.__packed_w,
/// bias, activation)`, which reads the copy for a single row.
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
    let (bias, activation) = match node.op {
        Op::Dense { bias, activation } => (bias, activation),
        Op::MatMul if graph.shape(node.operands[0]).rank() == 2 => (false, Activation::Identity),
        _ => return None,
    };
    // `dense`'s arguments, with the packed copy after `w`.
    let mut args = dense(bias, activation, operands.to_vec()).args;
    let field = super::packed_field(graph, w);
    args.insert(2, quote! { &self.#field });
    Some(call("packed", "dense_packed", args))
}

fn dense(bias: bool, activation: Activation, mut operands: Vec<TokenStream>) -> Call {
    if bias {
        let b = operands.pop().unwrap_or_default();
        operands.push(quote! { ::core::option::Option::Some(#b) });
    } else {
        operands.push(quote! { ::core::option::Option::None });
    }
    operands.push(self::activation(activation));
    call("dense", "dense", operands)
}

/// A dense node's activation as a `scalar::Activation` value.
pub fn activation(activation: Activation) -> TokenStream {
    let p = private();
    let activations = quote! { #p::scalar::Activation };
    match activation {
        Activation::Identity => quote! { #activations::Identity },
        Activation::Relu => quote! { #activations::Relu },
        Activation::LeakyRelu(alpha) => {
            let alpha = f32_literal(alpha.get());
            quote! { #activations::LeakyRelu(#alpha) }
        }
        Activation::Sigmoid => quote! { #activations::Sigmoid },
        Activation::Tanh => quote! { #activations::Tanh },
    }
}

/// `mapN_into(a, b, .., |e0, e1, ..| expression, out)`: one pass over the
/// result, each element computed by the fused expression.
fn fused(expression: &Scalar, mut operands: Vec<TokenStream>) -> Call {
    let params: Vec<Ident> = (0..operands.len())
        .map(|i| format_ident!("__e{}", i))
        .collect();
    let body = scalar_expression(expression);
    operands.push(quote! { |#(#params),*| #body });
    let kernel = format!("map{}", params.len());
    call("fused", &kernel, operands)
}

/// `mapN_inplace(target, others.., |__e<target>, __e<others>..| expression)`:
/// the fused expression over its `leaves`, written over leaf `target`.
fn fused_in_place(
    graph: &Graph,
    expression: &Scalar,
    leaves: &[NodeId],
    target: NodeId,
    destination: TokenStream,
) -> Call {
    let position = leaves.iter().position(|&l| l == target).unwrap_or(0);
    let others = (0..leaves.len()).filter(|&i| i != position);
    let params: Vec<Ident> = std::iter::once(position)
        .chain(others.clone())
        .map(|i| format_ident!("__e{}", i))
        .collect();
    let mut args = vec![destination];
    args.extend(others.map(|i| operand(graph, leaves[i])));
    let body = scalar_expression(expression);
    args.push(quote! { |#(#params),*| #body });
    call("fused", &format!("map{}_inplace", leaves.len()), args)
}

/// The Rust expression of one element of a fused node. Functions come from
/// `graph_runtime::scalar`, which the array kernels use too, so fused and
/// unfused graphs compute the same values.
pub fn scalar_expression(expression: &Scalar) -> TokenStream {
    let p = private();
    let f = quote! { #p::scalar };
    match expression {
        Scalar::Operand(i) => {
            let name = format_ident!("__e{}", i);
            quote! { #name }
        }
        Scalar::Constant(value) => f32_literal(value.get()),
        Scalar::Binary(binary, left, right) => {
            let (l, r) = (scalar_expression(left), scalar_expression(right));
            match binary {
                Binary::Add => quote! { (#l + #r) },
                Binary::Sub => quote! { (#l - #r) },
                Binary::Mul => quote! { (#l * #r) },
                Binary::Div => quote! { (#l / #r) },
                Binary::Maximum => quote! { #f::maximum(#l, #r) },
                Binary::Minimum => quote! { #f::minimum(#l, #r) },
            }
        }
        Scalar::Unary(unary, operand) => {
            let x = scalar_expression(operand);
            match unary {
                Unary::Neg => quote! { (-#x) },
                Unary::Pow(power) => {
                    let power = f32_literal(power.get());
                    quote! { #f::pow(#x, #power) }
                }
                Unary::LeakyRelu(alpha) => {
                    let alpha = f32_literal(alpha.get());
                    quote! { #f::leaky_relu(#x, #alpha) }
                }
                Unary::Clip(lo, hi) => {
                    let (lo, hi) = (f32_literal(lo.get()), f32_literal(hi.get()));
                    quote! { #f::clip(#x, #lo, #hi) }
                }
                other => {
                    let name = format_ident!("{}", Op::Unary(*other).word());
                    quote! { #f::#name(#x) }
                }
            }
        }
    }
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
