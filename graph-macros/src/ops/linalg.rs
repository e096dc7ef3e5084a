//! Matrix products: `matmul` on every rank pair numpy's `matmul` takes (up
//! to batched 3-D), and `dense`, the product the optimizer fuses with a bias
//! add and an activation.

use proc_macro2::TokenStream;
use quote::quote;

use super::elementwise::Unary;
use super::kernels::{Call, Form, Kernel};
use super::signature::{Param, Signature};
use super::{At, Family, Op};
use crate::diag::Code;
use crate::differentiate::Builder;
use crate::emit::bare::Bare;
use crate::introspect::Polynomial;
use crate::ir::{Bits, DType, NodeId};
use crate::shape::{broadcast, expect_dtypes, rule, Dim, Shape, ShapeError, Typed};
use crate::train::form::TrainingForm;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Linalg {
    MatMul,
    /// Made by the optimizer, never written: `activation(x·w + bias)` in one
    /// kernel that applies the bias and activation as it finishes each row
    /// of the product. Operands `(x, w)` or `(x, w, bias)`; the activation
    /// is a unary function the runtime's `scalar::Activation` has
    /// ([`Unary::activation`]).
    Dense {
        bias: bool,
        activation: Option<Unary>,
    },
    /// Made by the optimizer for `#[no_std]` training steps, never written:
    /// `w + scale·(a·b)` computed in `w` (operands `(w, a, b)`; `a` stored
    /// transposed when `transpose_a`), the update `w −= lr·aᵀ·δ` applied
    /// where its gradient is made, so that no gradient buffer exists.
    Accumulate {
        scale: Bits,
        transpose_a: bool,
    },
}

/// The family's ops under their names in TensorFlow, numpy or `PyTorch`, each
/// with what to write here: `unknown_op` suggests it.
pub static ALIASES: &[(&str, &str)] = &[
    ("matvec", "matmul"),
    ("mm", "matmul"),
    ("bmm", "matmul"),
    ("dot", "matmul"),
    ("tensordot", "matmul"),
    // Keras' and PyTorch's layers: the optimizer fuses the sum into one
    // `dense` node (it is not callable).
    ("dense", "matmul(x, w) + b"),
    ("linear", "matmul(x, w) + b"),
];

pub static SIGNATURES: &[Signature] = &[Signature::new(
    "matmul",
    &[Param::tensor("a"), Param::tensor("b")],
    |_| Op::Linalg(Linalg::MatMul),
)];

const INTO: &[Form] = &[Form::Into];
const MATMUL: Kernel = Kernel::std("linalg", "matmul", INTO);
const MATVEC: Kernel = Kernel::std("linalg", "matvec", INTO);
const VECMAT: Kernel = Kernel::std("linalg", "vecmat", INTO);
/// Returns the scalar product.
const DOT: Kernel = Kernel::std("linalg", "dot", &[Form::Value]);
const BATCH_MATMUL: Kernel = Kernel::std("batched", "batch_matmul", INTO);
const BATCH_MATMUL_SHARED: Kernel = Kernel::std("batched", "batch_matmul_shared", INTO);
const DENSE: Kernel = Kernel::std("dense", "dense", INTO);
const DENSE_PACKED: Kernel = Kernel::std("packed", "dense_packed", INTO);
const FLAT_MATMUL: Kernel = Kernel::flat("matmul");
const FLAT_DENSE: Kernel = Kernel::flat("dense");
const FLAT_ACCUMULATE: Kernel = Kernel::flat("matmul_accumulate");
/// Computed in its variable (`matmul_accumulate_inplace`); the `_into` form
/// keeps every op emittable into a slot.
const ACCUMULATE: Kernel = Kernel::std("linalg", "matmul_accumulate", &[Form::Into, Form::InPlace]);
const IDENTITY: Kernel = Kernel::scalar("identity");

pub const KERNELS: &[Kernel] = &[
    MATMUL,
    MATVEC,
    VECMAT,
    DOT,
    BATCH_MATMUL,
    BATCH_MATMUL_SHARED,
    DENSE,
    DENSE_PACKED,
    FLAT_MATMUL,
    FLAT_DENSE,
    FLAT_ACCUMULATE,
    ACCUMULATE,
    IDENTITY,
];

#[cfg_attr(not(test), allow(dead_code))]
pub const COST_ROWS: &[(&str, &str)] = &[
    (
        "`matmul` `[m, k] × [k, n]` (also 1-D and batched)",
        "2·k per out, so 2·m·k·n",
    ),
    (
        "`dense`: `matmul`, bias add and activation, fused by the optimizer",
        "its parts: 2·k per out, + 1 per out for the bias, + the activation's count",
    ),
    (
        "`accumulate`: a `#[no_std]` step's update `w + c·a·b`, fused by the optimizer",
        "2·k + 1 per element of `w`",
    ),
];

impl Linalg {
    /// The `std` statement computing a fused update (`Accumulate`) in
    /// `destination`, the buffer of its variable (operand 0), which already
    /// holds `w`: `matmul_accumulate_inplace(destination, a, b, ..)`, with
    /// `operand(i)` operand `i`'s view. `None` for every other op, which
    /// the plan never computes over an operand.
    pub fn emit_in_place(
        &self,
        destination: &TokenStream,
        operand: &dyn Fn(usize) -> TokenStream,
    ) -> Option<TokenStream> {
        let Linalg::Accumulate { scale, transpose_a } = self else {
            return None;
        };
        let kernel = ACCUMULATE.path(Form::InPlace);
        let scale = scale.get();
        let (a, b) = (operand(1), operand(2));
        Some(quote! { #kernel(#destination, #a, #b, #transpose_a, #scale) })
    }
    /// Whether the kernel returns a plain scalar (a vector-vector product)
    /// instead of writing a workspace slot.
    pub fn returns_scalar(&self, at: At<'_>) -> bool {
        match self {
            Linalg::MatMul => at.shape().is_scalar(),
            Linalg::Dense { .. } | Linalg::Accumulate { .. } => false,
        }
    }

    /// The weight operand of a product whose left operand is a matrix: the
    /// matrix a packed copy can serve.
    pub fn weights_of_matrix_product(&self, at: At<'_>) -> Option<crate::ir::NodeId> {
        match self {
            Linalg::MatMul | Linalg::Dense { .. } => {
                (at.operand_shape(0).rank() == 2).then(|| at.operand(1))
            }
            Linalg::Accumulate { .. } => None,
        }
    }

    /// The call reading `w`'s packed copy (the field `packed`) for a matrix
    /// product: `packed::dense_packed_into(x, w, &self.__packed_w, bias,
    /// activation, out)`.
    pub fn emit_packed(
        &self,
        at: At<'_>,
        operands: Vec<TokenStream>,
        packed: TokenStream,
    ) -> Option<Call> {
        let (bias, activation) = match self {
            Linalg::Dense { bias, activation } => (*bias, *activation),
            Linalg::MatMul if at.operand_shape(0).rank() == 2 => (false, None),
            Linalg::MatMul | Linalg::Accumulate { .. } => return None,
        };
        let mut args = dense_args(bias, activation, operands);
        args.insert(2, packed);
        Some(Call::new(DENSE_PACKED, args))
    }
}

/// `dense`'s arguments: `x, w, Option<bias>, activation`.
fn dense_args(
    bias: bool,
    activation: Option<Unary>,
    mut operands: Vec<TokenStream>,
) -> Vec<TokenStream> {
    if bias {
        let b = operands.pop().unwrap_or_default();
        operands.push(quote! { ::core::option::Option::Some(#b) });
    } else {
        operands.push(quote! { ::core::option::Option::None });
    }
    operands.push(activation_value(activation));
    operands
}

/// A dense node's epilogue as a `scalar::Activation` value.
fn activation_value(activation: Option<Unary>) -> TokenStream {
    let p = crate::emit::private();
    activation
        .and_then(Unary::activation)
        .unwrap_or_else(|| quote! { #p::scalar::Activation::Identity })
}

impl Family for Linalg {
    fn word(&self) -> &'static str {
        match self {
            Linalg::MatMul => "matmul",
            Linalg::Dense { .. } => "dense",
            Linalg::Accumulate { .. } => "accumulate",
        }
    }

    fn infer(&self, operands: &[Typed<'_>]) -> Result<(Shape, DType), ShapeError> {
        expect_dtypes(operands, &vec![DType::F32; operands.len()])?;
        if let Linalg::Accumulate { transpose_a, .. } = self {
            // `w + a·b`: the product has `w`'s shape (the optimizer makes
            // this node only where it does).
            let a = operands[1].0;
            let a = if *transpose_a && a.rank() == 2 {
                Shape(vec![a.0[1].clone(), a.0[0].clone()])
            } else {
                a.clone()
            };
            let product = matmul(&a, operands[2].0)?;
            return Ok((broadcast(operands[0].0, &product)?, DType::F32));
        }
        let product = matmul(operands[0].0, operands[1].0)?;
        match self {
            Linalg::Dense { bias: true, .. } => {
                Ok((broadcast(&product, operands[2].0)?, DType::F32))
            }
            Linalg::MatMul | Linalg::Dense { bias: false, .. } | Linalg::Accumulate { .. } => {
                Ok((product, DType::F32))
            }
        }
    }

    fn flops(&self, at: At<'_>) -> Polynomial {
        let out = Polynomial::product(&at.shape().0);
        if let Linalg::Accumulate { transpose_a, .. } = self {
            // 2 per term of the product, and the add into `w` per element.
            let a = at.operand_shape(1);
            let inner = if *transpose_a {
                a.0.first()
            } else {
                a.0.last()
            };
            let inner = inner.map(std::slice::from_ref).unwrap_or_default();
            return out.times(&Polynomial::product(inner)).scale(2).plus(&out);
        }
        let left = at.operand_shape(0);
        let inner = left.0.last().map(std::slice::from_ref).unwrap_or_default();
        let product = out.times(&Polynomial::product(inner)).scale(2);
        match self {
            Linalg::MatMul | Linalg::Accumulate { .. } => product,
            Linalg::Dense { bias, activation } => {
                // The product, then per element the bias add and the activation.
                let per_element =
                    u64::from(*bias) + activation.map_or(0, |activation| activation.info().cost);
                product.plus(&out.scale(per_element))
            }
        }
    }

    fn label(&self, word: &str, operands: &[String]) -> String {
        let operand = |i: usize| operands.get(i).map_or("?", String::as_str);
        let (bias, activation) = match self {
            Linalg::Dense { bias, activation } => (bias, activation),
            Linalg::MatMul => return word.to_string(),
            Linalg::Accumulate { scale, transpose_a } => {
                let a = if *transpose_a {
                    format!("transpose({})", operand(1))
                } else {
                    operand(1).to_string()
                };
                let scale = scale.get();
                return format!(
                    "update: {} + {scale:?} * matmul({a}, {})",
                    operand(0),
                    operand(2)
                );
            }
        };
        let mut formula = format!("matmul({}, {})", operand(0), operand(1));
        if *bias {
            formula = format!("{formula} + {}", operand(2));
        }
        if let Some(activation) = activation {
            formula = activation.label_over(formula);
        }
        format!("dense: {formula}")
    }

    fn shows_formula(&self) -> bool {
        matches!(self, Linalg::Dense { .. } | Linalg::Accumulate { .. })
    }

    fn emit(&self, at: At<'_>, operands: Vec<TokenStream>) -> Call {
        match self {
            Linalg::MatMul => {
                let ranks = (at.operand_shape(0).rank(), at.operand_shape(1).rank());
                let kernel = match ranks {
                    (2, 2) => MATMUL,
                    (2, 1) => MATVEC,
                    (1, 2) => VECMAT,
                    (1, 1) => DOT,
                    (3, 3) => BATCH_MATMUL,
                    _ => BATCH_MATMUL_SHARED,
                };
                Call::new(kernel, operands)
            }
            Linalg::Dense { bias, activation } => {
                Call::new(DENSE, dense_args(*bias, *activation, operands))
            }
            Linalg::Accumulate { scale, transpose_a } => {
                let mut args = operands;
                let scale = scale.get();
                args.push(quote! { #transpose_a });
                args.push(quote! { #scale });
                Call::new(ACCUMULATE, args)
            }
        }
    }

    fn bare_support(&self, at: At<'_>) -> bool {
        let batched = at.node().operands.iter().any(|&o| {
            at.graph
                .node(o)
                .shape
                .as_ref()
                .is_some_and(|s| s.rank() > 2)
        });
        // The slice kernels take vectors and matrices, not batches.
        !batched
    }

    /// For `c = a·b`: `a` gets `g·bᵀ` and `b` gets `aᵀ·g`, with vectors as
    /// one-row or one-column matrices and batches transposed per matrix (a
    /// weight shared by a batch sums its gradients over the batch).
    fn vjp(
        &self,
        node: NodeId,
        g: NodeId,
        b: &mut Builder<'_>,
    ) -> Result<Vec<Option<NodeId>>, String> {
        if let Linalg::Dense { .. } | Linalg::Accumulate { .. } = self {
            return Err("fused nodes are made after differentiation".to_string());
        }
        let (x, w) = (b.operand(node, 0), b.operand(node, 1));
        let (xs, ws) = (b.shape(x), b.shape(w));
        let as_shape = |dims: Vec<&Dim>| Shape(dims.into_iter().cloned().collect());
        let (dx, dw) = match (xs.rank(), ws.rank()) {
            (1, 1) => (b.mul(g, w), b.mul(g, x)),
            (2, 1) => {
                // x [m, k]·w [k] = [m]: dx = g ⊗ w, dw = xᵀ·g.
                let column = as_shape(vec![&xs.0[0], &Dim::Fixed(1)]);
                let row = as_shape(vec![&Dim::Fixed(1), &ws.0[0]]);
                let g_column = b.reshape(g, &column);
                let w_row = b.reshape(w, &row);
                let xt = b.transpose(x, vec![1, 0]);
                (b.matmul(g_column, w_row), b.matmul(xt, g))
            }
            (1, 2) => {
                // x [k]·w [k, n] = [n]: dx = w·g, dw = x ⊗ g.
                let column = as_shape(vec![&xs.0[0], &Dim::Fixed(1)]);
                let row = as_shape(vec![&Dim::Fixed(1), &ws.0[1]]);
                let x_column = b.reshape(x, &column);
                let g_row = b.reshape(g, &row);
                (b.matmul(w, g), b.matmul(x_column, g_row))
            }
            (2, 2) => {
                let wt = b.transpose(w, vec![1, 0]);
                let xt = b.transpose(x, vec![1, 0]);
                (b.matmul(g, wt), b.matmul(xt, g))
            }
            (3, 3) => {
                let wt = b.transpose(w, vec![0, 2, 1]);
                let xt = b.transpose(x, vec![0, 2, 1]);
                (b.matmul(g, wt), b.matmul(xt, g))
            }
            _ => {
                // x [b, m, k]·w [k, n]: w's gradient summed over the batch.
                let wt = b.transpose(w, vec![1, 0]);
                let xt = b.transpose(x, vec![0, 2, 1]);
                let per_batch = b.matmul(xt, g);
                (b.matmul(g, wt), b.sum(per_batch, vec![0], false))
            }
        };
        Ok(vec![Some(dx), Some(dw)])
    }

    /// `(m, k, n)` from the operands' shapes, a vector on the left being
    /// one row.
    fn emit_bare(&self, bare: &Bare<'_>) -> TokenStream {
        if let Linalg::Accumulate { scale, transpose_a } = self {
            return accumulate_bare(bare, scale.get(), *transpose_a);
        }
        let (left, right) = (bare.input(0), bare.input(1));
        let (rows, depth) = if left.len() == 2 {
            (left[0], left[1])
        } else {
            (1, left[0])
        };
        let columns = right.get(1).copied().unwrap_or(1);
        let (x, w) = (&bare.operands[0], &bare.operands[1]);
        let destination = &bare.destination;
        let dims = quote! { (#rows, #depth, #columns) };
        match self {
            Linalg::Dense { bias, activation } => {
                let bias = if *bias {
                    let b = &bare.operands[2];
                    quote! { ::core::option::Option::Some(#b) }
                } else {
                    quote! { ::core::option::Option::None }
                };
                // The activation as a function of one element.
                let activation = match activation {
                    Some(activation) => activation.function(),
                    None => IDENTITY.path(Form::Value),
                };
                let dense = FLAT_DENSE.path(Form::Value);
                quote! { #dense(#x, #w, #bias, #dims, #activation, #destination) }
            }
            Linalg::MatMul => {
                let matmul = FLAT_MATMUL.path(Form::Value);
                quote! { #matmul(#x, #w, #dims, #destination) }
            }
            Linalg::Accumulate { .. } => Bare::unsupported(),
        }
    }

    fn is_identity(&self) -> bool {
        false
    }

    /// No training form: a step computes it as written.
    fn training_form(
        &self,
        _node: NodeId,
        _operands: &[NodeId],
        _t: &mut TrainingForm<'_, '_>,
    ) -> Result<Option<NodeId>, String> {
        Ok(None)
    }
}

/// `flat::matmul_accumulate` for `w + scale·(a·b)`: over `w`'s own buffer
/// when the plan computes it there (then `w` is the destination), else
/// into a slot that first takes `w`'s value.
fn accumulate_bare(bare: &Bare<'_>, scale: f32, transpose_a: bool) -> TokenStream {
    let p = crate::emit::private();
    let (left, right) = (bare.input(1), bare.input(2));
    let (rows, depth) = if transpose_a {
        (left[1], left[0])
    } else {
        (left[0], left.get(1).copied().unwrap_or(1))
    };
    let columns = right.get(1).copied().unwrap_or(1);
    let (variable, x, gradient) = (&bare.operands[0], &bare.operands[1], &bare.operands[2]);
    let destination = &bare.destination;
    let kernel = FLAT_ACCUMULATE.path(Form::Value);
    let call = quote! {
        #kernel(#x, #gradient, (#rows, #depth, #columns), #transpose_a, #scale, __out)
    };
    if bare.overwrites == Some(0) {
        quote! {{ let __out = #destination; #call }}
    } else {
        quote! {{ let __out = #destination; #p::flat::copy(#variable, &mut *__out); #call }}
    }
}

/// numpy's `matmul` for 1-D and 2-D operands (a vector on the left is a
/// row, on the right a column, and that axis is dropped from the result),
/// and batched 3-D products: `[b, m, k] × [b, k, n]` and `[b, m, k] × [k, n]`.
fn matmul(left: &Shape, right: &Shape) -> Result<Shape, ShapeError> {
    let rank_error = |side: &str, shape: &Shape| {
        let scalar = if shape.is_scalar() {
            " (a scalar); use `*` to scale"
        } else {
            ""
        };
        rule(
            Code::Matmul,
            format!(
                "takes 1-D, 2-D or batched 3-D operands, but its {side} operand is {shape}{scalar}"
            ),
        )
    };
    let left_ok = (1..=3).contains(&left.rank());
    let right_ok = (1..=2).contains(&right.rank()) || (right.rank() == 3 && left.rank() == 3);
    if !left_ok {
        return Err(rank_error("left", left));
    }
    if !right_ok || (left.rank() == 3 && right.rank() == 1) {
        return Err(rank_error("right", right));
    }
    let inner_left = &left.0[left.rank() - 1];
    let inner_right = &right.0[right.rank().saturating_sub(2)];
    let batch_ok = right.rank() != 3 || left.0[0] == right.0[0];
    if inner_left != inner_right || !batch_ok {
        return Err(rule(
            Code::Matmul,
            format!("inner dimensions differ: left is {left}, right is {right}"),
        ));
    }
    let mut dims: Vec<Dim> = left.0[..left.rank() - 1].to_vec();
    if right.rank() >= 2 {
        dims.push(right.0[right.rank() - 1].clone());
    }
    Ok(Shape(dims))
}

/// The constructors of this family's ops that gradient rules build with.
impl Builder<'_> {
    pub fn matmul(&mut self, a: NodeId, b: NodeId) -> NodeId {
        self.push(Op::Linalg(Linalg::MatMul), vec![a, b])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::tests::shape;

    #[test]
    fn matmul_table() {
        let ok = [
            ("n, 784", "784, 128", "n, 128"),
            ("3", "3, 4", "4"),
            ("2, 3", "3", "2"),
            ("k", "k", ""),
            ("b, n, 4", "b, 4, 2", "b, n, 2"),
            ("b, n, 4", "4, 2", "b, n, 2"),
        ];
        for (l, r, out) in ok {
            assert_eq!(matmul(&shape(l), &shape(r)), Ok(shape(out)));
        }
        let message = |l: &str, r: &str| match matmul(&shape(l), &shape(r)) {
            Err(error) => error.message("matmul", &[]),
            Ok(shape) => panic!("{l} × {r} gave {shape}"),
        };
        assert_eq!(
            message("n, 784", "128, 10"),
            "`matmul` inner dimensions differ: left is [n, 784], right is [128, 10]"
        );
        assert_eq!(
            message("", "3"),
            "`matmul` takes 1-D, 2-D or batched 3-D operands, but its left operand is [] (a scalar); use `*` to scale"
        );
        assert_eq!(
            message("2, 3", "1, 3, 4"),
            "`matmul` takes 1-D, 2-D or batched 3-D operands, but its right operand is [1, 3, 4]"
        );
    }
}
