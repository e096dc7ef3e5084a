//! `grad(loss, x)`: the gradient of a scalar `loss` with respect to an
//! input or a variable `x`, with `x`'s shape. A `grad` node only stands in
//! for the gradient between lowering and the differentiate phase, which
//! builds the backward pass out of the other families' gradient rules and
//! puts the gradient in its place; no `grad` node reaches emission.

use proc_macro2::TokenStream;
use quote::quote;

use super::kernels::{Call, CONSTANT_VIEW};
use super::signature::{Param, Signature};
use super::{At, Family, Op};
use crate::diag::Code;
use crate::differentiate::Builder;
use crate::emit::bare::Bare;
use crate::introspect::Polynomial;
use crate::ir::{DType, NodeId};
use crate::shape::{expect_dtypes, rule, Shape, ShapeError, Typed};
use crate::train::form::TrainingForm;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Autodiff {
    /// Operands `(loss, x)`.
    Grad,
}

pub static SIGNATURES: &[Signature] = &[Signature::new(
    "grad",
    &[Param::tensor("loss"), Param::tensor("x")],
    |_| Op::Autodiff(Autodiff::Grad),
)];

/// What a `grad` node would emit if one ever reached emission: a compile
/// error (the differentiate phase replaces every `grad` node).
fn never_emitted() -> TokenStream {
    quote! { ::core::compile_error!("a `grad` node reached emission") }
}

impl Family for Autodiff {
    fn word(&self) -> &'static str {
        match self {
            Autodiff::Grad => "grad",
        }
    }

    fn infer(&self, operands: &[Typed<'_>]) -> Result<(Shape, DType), ShapeError> {
        match self {
            Autodiff::Grad => {
                expect_dtypes(operands, &[DType::F32, DType::F32])?;
                let (loss, x) = (operands[0].0, operands[1].0);
                if !loss.is_scalar() {
                    return Err(rule(Code::LossShape, format!(
                        "takes a scalar loss, but it is {loss}: reduce it first, as in `mean(..)` or `sum(..)`"
                    )));
                }
                Ok((x.clone(), DType::F32))
            }
        }
    }

    fn flops(&self, _at: At<'_>) -> Polynomial {
        Polynomial::default()
    }

    fn label(&self, word: &str, _operands: &[String]) -> String {
        word.to_string()
    }

    fn shows_formula(&self) -> bool {
        false
    }

    fn emit(&self, _at: At<'_>, _operands: Vec<TokenStream>) -> Call {
        Call::new(CONSTANT_VIEW, vec![never_emitted()])
    }

    fn bare_support(&self, _at: At<'_>) -> bool {
        true
    }

    fn emit_bare(&self, _bare: &Bare<'_>) -> TokenStream {
        never_emitted()
    }

    fn vjp(
        &self,
        _node: NodeId,
        _grad: NodeId,
        _b: &mut Builder<'_>,
    ) -> Result<Vec<Option<NodeId>>, String> {
        Err("a gradient of a gradient is not available yet".to_string())
    }

    fn is_identity(&self) -> bool {
        false
    }

    /// A `grad` of a value with a training form: the gradient of the
    /// training form, which the phase that resolves `grad` does not build.
    fn training_form(
        &self,
        node: NodeId,
        operands: &[NodeId],
        t: &mut TrainingForm<'_, '_>,
    ) -> Result<Option<NodeId>, String> {
        if operands == t.b.graph().node(node).operands.as_slice() {
            Ok(None)
        } else {
            Err("the loss takes a `grad` through it, and a gradient inside a step's loss is not available yet".to_string())
        }
    }
}
