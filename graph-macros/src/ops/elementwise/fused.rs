//! Fused trees: the per-element expression of a node the optimizer made
//! from a tree of elementwise ops, as Rust (for the kernels' closures), as
//! a formula (for DOT) and as a count (for the summary); and the in-place
//! forms, which write an elementwise result over an operand's buffer.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::super::kernels::{Form, Kernel};
use super::super::At;
use super::{Binary, Elementwise, Unary};
use crate::emit::f32_literal;
use crate::ir::{Bits, NodeId};

/// The per-element expression of a `Fused` node.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Scalar {
    /// The element of operand `i`.
    Operand(usize),
    Constant(Bits),
    Unary(Unary, Box<Scalar>),
    Binary(Binary, Box<Scalar>, Box<Scalar>),
    /// `f'(x)`: the slope of a unary function.
    Slope(Unary, Box<Scalar>),
}

/// Most operands a fused node takes: the runtime's `map1` … `map5`.
pub const MAX_FUSED_OPERANDS: usize = 5;

impl Elementwise {
    /// The `std` statement computing the op over `destination` (the buffer
    /// of operand `target`, or a variable), reading the other operands:
    ///
    /// ```text
    /// kernels::unary::relu_inplace(__ws.s0.out([n, 4]));           // relu(h), h in s0
    /// kernels::elementwise::sub_inplace(__ws.s1.out([n, 4]), b.view());
    /// kernels::fused::map3_inplace(self.w.view_mut(), ndarray::aview0(&lr), g.view(),
    ///     |__e0, __e1, __e2| (__e0 - (__e1 * __e2)));                // w = w - lr * g
    /// ```
    ///
    /// A unary op, or `+ - * /` overwriting its left operand, uses the op's
    /// own `_inplace` kernel; anything else (a fused tree, the right operand,
    /// both operands, `maximum`) a `fused::mapN_inplace`, whose closure takes
    /// the overwritten operand's element first. `operand(i)` is operand
    /// `i`'s view; `None` for an op without an in-place form.
    pub fn emit_in_place(
        &self,
        at: At<'_>,
        target: NodeId,
        destination: TokenStream,
        operand: &dyn Fn(NodeId) -> TokenStream,
    ) -> Option<TokenStream> {
        let operands = &at.node().operands;
        let (kernel, args) = match self {
            Elementwise::Unary(op) => {
                let params = op.info().params.into_iter().map(|(_, v)| f32_literal(v));
                (
                    op.kernel(),
                    std::iter::once(destination).chain(params).collect(),
                )
            }
            Elementwise::Binary(op)
                if op.operator().is_some() && operands[0] == target && operands[1] != target =>
            {
                (op.kernel(), vec![destination, operand(operands[1])])
            }
            Elementwise::Binary(op) => {
                // A tree of one node over the op's distinct operands.
                let mut leaves = operands.clone();
                leaves.dedup();
                let leaf = |o: NodeId| {
                    let position = leaves.iter().position(|&l| l == o).unwrap_or(0);
                    Box::new(Scalar::Operand(position))
                };
                let expression = Scalar::Binary(*op, leaf(operands[0]), leaf(operands[1]));
                return Some(fused_in_place(
                    &expression,
                    &leaves,
                    target,
                    destination,
                    operand,
                ));
            }
            Elementwise::Fused(expression) => {
                return Some(fused_in_place(
                    expression,
                    operands,
                    target,
                    destination,
                    operand,
                ));
            }
            Elementwise::Slope(op) => {
                let expression = Scalar::Slope(*op, Box::new(Scalar::Operand(0)));
                return Some(fused_in_place(
                    &expression,
                    operands,
                    target,
                    destination,
                    operand,
                ));
            }
            Elementwise::Compare(_) | Elementwise::Select => return None,
        };
        let path = kernel.path(Form::InPlace);
        Some(quote! { #path(#(#args),*) })
    }
}

/// `mapN_inplace(target, others.., |__e<target>, __e<others>..| expression)`:
/// the fused expression over its `leaves`, written over leaf `target`.
fn fused_in_place(
    expression: &Scalar,
    leaves: &[NodeId],
    target: NodeId,
    destination: TokenStream,
    operand: &dyn Fn(NodeId) -> TokenStream,
) -> TokenStream {
    let position = leaves.iter().position(|&l| l == target).unwrap_or(0);
    let others = (0..leaves.len()).filter(|&i| i != position);
    let params: Vec<Ident> = std::iter::once(position)
        .chain(others.clone())
        .map(|i| format_ident!("__e{}", i))
        .collect();
    let mut args = vec![destination];
    args.extend(others.map(|i| operand(leaves[i])));
    let body = scalar_expression(expression);
    let kernel = Kernel::std("fused", map_name(leaves.len()), &[Form::InPlace]);
    let path = kernel.path(Form::InPlace);
    quote! { #path(#(#args,)* |#(#params),*| #body) }
}

pub(super) fn map_name(operands: usize) -> &'static str {
    match operands {
        1 => "map1",
        2 => "map2",
        3 => "map3",
        4 => "map4",
        _ => "map5",
    }
}

/// The Rust expression of one element of a fused tree, over the closure
/// parameters `__e<i>`. Functions come from `graph_runtime::scalar`, which
/// the array kernels use too, so fused and unfused graphs compute the same
/// values.
pub fn scalar_expression(expression: &Scalar) -> TokenStream {
    match expression {
        Scalar::Operand(i) => {
            let name = format_ident!("__e{}", i);
            quote! { #name }
        }
        Scalar::Constant(value) => f32_literal(value.get()),
        Scalar::Binary(op, left, right) => {
            let (l, r) = (scalar_expression(left), scalar_expression(right));
            match op.operator() {
                Some(operator) => quote! { (#l #operator #r) },
                None => Kernel::scalar(op.word()).call(&[l, r]),
            }
        }
        Scalar::Unary(Unary::Neg, operand) => {
            let x = scalar_expression(operand);
            quote! { (-#x) }
        }
        Scalar::Unary(op, operand) => op.apply(&scalar_expression(operand)),
        Scalar::Slope(op, operand) => op.apply_slope(&scalar_expression(operand)),
    }
}

/// A fused node's per-element formula, written as the graph language
/// would: operands by name, `+ - * /` infix with parentheses around nested
/// operations, other ops as calls.
pub(super) fn formula(expression: &Scalar, operands: &[String], top: bool) -> String {
    let text = match expression {
        Scalar::Operand(i) => return operands.get(*i).cloned().unwrap_or_else(|| format!("#{i}")),
        Scalar::Constant(value) => return value.get().to_string(),
        Scalar::Unary(Unary::Neg, x) => return format!("-{}", formula(x, operands, false)),
        Scalar::Unary(op, x) => {
            let x = formula(x, operands, true);
            let attributes = op.attributes();
            let word = op.info().word;
            return if attributes.is_empty() {
                format!("{word}({x})")
            } else {
                format!("{word}({x}, {})", attributes.join(", "))
            };
        }
        Scalar::Slope(op, x) => {
            let x = formula(x, operands, true);
            let attributes = op.attributes();
            let word = op.info().word;
            return if attributes.is_empty() {
                format!("{word}'({x})")
            } else {
                format!("{word}'({x}, {})", attributes.join(", "))
            };
        }
        Scalar::Binary(op @ (Binary::Maximum | Binary::Minimum), a, b) => {
            return format!(
                "{}({}, {})",
                op.word(),
                formula(a, operands, true),
                formula(b, operands, true)
            );
        }
        Scalar::Binary(op @ (Binary::Add | Binary::Sub | Binary::Mul | Binary::Div), a, b) => {
            format!(
                "{} {} {}",
                formula(a, operands, false),
                op.symbol(),
                formula(b, operands, false)
            )
        }
    };
    if top {
        text
    } else {
        format!("({text})")
    }
}

/// Operations per element of a fused expression: those of its ops, so
/// fusing changes no count (beyond computing at the result's shape).
pub(super) fn scalar_cost(expression: &Scalar) -> u64 {
    match expression {
        Scalar::Operand(_) | Scalar::Constant(_) => 0,
        Scalar::Unary(op, x) | Scalar::Slope(op, x) => {
            op.info().cost.saturating_add(scalar_cost(x))
        }
        Scalar::Binary(_, a, b) => 1_u64
            .saturating_add(scalar_cost(a))
            .saturating_add(scalar_cost(b)),
    }
}
