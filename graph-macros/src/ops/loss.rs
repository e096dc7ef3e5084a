//! The softmax family and the losses: `softmax`, `log_softmax` and
//! `logsumexp` along one axis, `mse`, and `softmax_cross_entropy` against
//! probabilities or class indices. One family, because the cross-entropy is
//! a log-softmax picked at the labels.

use proc_macro2::TokenStream;
use quote::quote;

use super::kernels::{Call, Form, Kernel};
use super::signature::{attr, Default, Kind, Param, Signature};
use super::{At, Family, Op};
use crate::emit::bare::{lanes, Bare};
use crate::introspect::Polynomial;
use crate::ir::DType;
use crate::shape::{axis, expect_dtypes, reduced, rule, Shape, ShapeError, Typed};

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Loss {
    Softmax {
        axis: i64,
    },
    LogSoftmax {
        axis: i64,
    },
    LogSumExp {
        axis: i64,
        keep_dims: bool,
    },
    /// Mean squared error over all elements: a scalar.
    Mse,
    /// Per-example softmax cross-entropy of `[n, c]` logits against `[n, c]`
    /// probabilities or `[n]` class indices.
    CrossEntropy,
}

const AXIS: &[Param] = &[
    Param::tensor("x"),
    attr("axis", Kind::Int, Default::Int(-1)),
];

pub static SIGNATURES: &[Signature] = &[
    Signature::new("softmax", AXIS, |a| {
        Op::Loss(Loss::Softmax {
            axis: a.int("axis"),
        })
    }),
    Signature::new("log_softmax", AXIS, |a| {
        Op::Loss(Loss::LogSoftmax {
            axis: a.int("axis"),
        })
    }),
    Signature::new(
        "logsumexp",
        &[
            Param::tensor("x"),
            attr("axis", Kind::Int, Default::Int(-1)),
            attr("keep_dims", Kind::Bool, Default::Bool(false)),
        ],
        |a| {
            Op::Loss(Loss::LogSumExp {
                axis: a.int("axis"),
                keep_dims: a.boolean("keep_dims"),
            })
        },
    ),
    Signature::new(
        "mse",
        &[Param::tensor("pred"), Param::tensor("target")],
        |_| Op::Loss(Loss::Mse),
    ),
    Signature::new(
        "softmax_cross_entropy",
        &[Param::tensor("logits"), Param::tensor("labels")],
        |_| Op::Loss(Loss::CrossEntropy),
    ),
];

const SOFTMAX: Kernel = Kernel::std("softmax", "softmax", &[Form::Into]);
const LOG_SOFTMAX: Kernel = Kernel::std("softmax", "log_softmax", &[Form::Into]);
const LOGSUMEXP: Kernel = Kernel::std("softmax", "logsumexp", &[Form::Into]);
/// Returns the scalar loss.
const MSE: Kernel = Kernel::std("loss", "mse", &[Form::Value]);
const CROSS_ENTROPY: Kernel = Kernel::std("loss", "softmax_cross_entropy", &[Form::Into]);
/// Checks each index against the class count.
const CROSS_ENTROPY_INDICES: Kernel =
    Kernel::std("loss", "softmax_cross_entropy_indices", &[Form::Into]);
const FLAT_SOFTMAX: Kernel = Kernel::flat("softmax");
const FLAT_LOG_SOFTMAX: Kernel = Kernel::flat("log_softmax");
const FLAT_LOGSUMEXP: Kernel = Kernel::flat("logsumexp");

pub const KERNELS: &[Kernel] = &[
    SOFTMAX,
    LOG_SOFTMAX,
    LOGSUMEXP,
    MSE,
    CROSS_ENTROPY,
    CROSS_ENTROPY_INDICES,
    FLAT_SOFTMAX,
    FLAT_LOG_SOFTMAX,
    FLAT_LOGSUMEXP,
];

#[cfg_attr(not(test), allow(dead_code))]
pub const COST_ROWS: &[(&str, &str)] = &[
    ("`softmax` (max, subtract, exp, sum, divide)", "5 per in"),
    (
        "`log_softmax` (max, subtract, exp, sum, subtract)",
        "5 per in + 1 per row (log)",
    ),
    (
        "`logsumexp` (max, subtract, exp, sum)",
        "4 per in + 2 per out (log, add the max back)",
    ),
    ("`mse` (subtract, square, sum)", "3 per in + 1 (divide)"),
    (
        "`softmax_cross_entropy`, probability labels",
        "7 per logit + 1 per row",
    ),
    (
        "`softmax_cross_entropy`, class-index labels",
        "4 per logit + 2 per row",
    ),
];

impl Loss {
    /// Whether the kernel returns a plain scalar instead of writing a
    /// workspace slot.
    pub fn returns_scalar(&self) -> bool {
        match self {
            Loss::Mse => true,
            Loss::Softmax { .. }
            | Loss::LogSoftmax { .. }
            | Loss::LogSumExp { .. }
            | Loss::CrossEntropy => false,
        }
    }
}

impl Family for Loss {
    fn word(&self) -> &'static str {
        match self {
            Loss::Softmax { .. } => "softmax",
            Loss::LogSoftmax { .. } => "log_softmax",
            Loss::LogSumExp { .. } => "logsumexp",
            Loss::Mse => "mse",
            Loss::CrossEntropy => "softmax_cross_entropy",
        }
    }

    fn infer(&self, operands: &[Typed<'_>]) -> Result<(Shape, DType), ShapeError> {
        let x = operands[0].0;
        match self {
            Loss::Softmax { axis: a } | Loss::LogSoftmax { axis: a } => {
                expect_dtypes(operands, &[DType::F32])?;
                axis(*a, x.rank())?;
                Ok((x.clone(), DType::F32))
            }
            Loss::LogSumExp { axis: a, keep_dims } => {
                expect_dtypes(operands, &[DType::F32])?;
                let a = axis(*a, x.rank())?;
                Ok((reduced(x, &[a], *keep_dims), DType::F32))
            }
            Loss::Mse => {
                expect_dtypes(operands, &[DType::F32, DType::F32])?;
                if x != operands[1].0 {
                    return Err(rule(format!(
                        "needs predictions and targets of one shape, but they are {} and {}",
                        x, operands[1].0
                    )));
                }
                Ok((Shape::default(), DType::F32))
            }
            Loss::CrossEntropy => cross_entropy(operands).map(|shape| (shape, DType::F32)),
        }
    }

    fn flops(&self, at: At<'_>) -> Polynomial {
        let input = Polynomial::product(&at.operand_shape(0).0);
        match self {
            Loss::Softmax { .. } => input.scale(5),
            Loss::LogSoftmax { axis } => input.scale(5).plus(&rows(at.operand_shape(0), *axis)),
            Loss::LogSumExp { .. } => input
                .scale(4)
                .plus(&Polynomial::product(&at.shape().0).scale(2)),
            Loss::Mse => input.scale(3).plus(&Polynomial::constant(1)),
            Loss::CrossEntropy => {
                let batch = rows(at.operand_shape(0), -1);
                if at.operand_dtype(1) == DType::Usize {
                    input.scale(4).plus(&batch.scale(2))
                } else {
                    input.scale(7).plus(&batch)
                }
            }
        }
    }

    fn label(&self, word: &str, _operands: &[String]) -> String {
        let attributes = match self {
            Loss::Softmax { axis } | Loss::LogSoftmax { axis } => {
                vec![format!("axis={axis}")]
            }
            Loss::LogSumExp { axis, keep_dims } => {
                let mut attributes = vec![format!("axis={axis}")];
                if *keep_dims {
                    attributes.push("keep_dims=true".to_string());
                }
                attributes
            }
            Loss::Mse | Loss::CrossEntropy => Vec::new(),
        };
        crate::dot::call(word, &attributes)
    }

    fn shows_formula(&self) -> bool {
        false
    }

    fn emit(&self, at: At<'_>, mut operands: Vec<TokenStream>) -> Call {
        match self {
            Loss::Softmax { axis } | Loss::LogSoftmax { axis } => {
                let axis = at.axis_of(0, *axis);
                operands.push(quote! { #axis });
                let kernel = if matches!(self, Loss::Softmax { .. }) {
                    SOFTMAX
                } else {
                    LOG_SOFTMAX
                };
                Call::new(kernel, operands)
            }
            Loss::LogSumExp { axis, keep_dims } => {
                let axis = at.axis_of(0, *axis);
                operands.push(quote! { #axis });
                operands.push(quote! { #keep_dims });
                Call::new(LOGSUMEXP, operands)
            }
            Loss::Mse => Call::new(MSE, operands),
            Loss::CrossEntropy if at.operand_dtype(1) == DType::Usize => {
                let labels = at.describe_operand(1);
                operands.push(quote! { #labels });
                Call::new(CROSS_ENTROPY_INDICES, operands).fallible()
            }
            Loss::CrossEntropy => Call::new(CROSS_ENTROPY, operands),
        }
    }

    fn bare_support(&self, _at: At<'_>) -> bool {
        match self {
            Loss::Softmax { .. } | Loss::LogSoftmax { .. } | Loss::LogSumExp { .. } => true,
            Loss::Mse | Loss::CrossEntropy => false,
        }
    }

    fn emit_bare(&self, bare: &Bare<'_>) -> TokenStream {
        let x = &bare.operands[0];
        let in_sizes = bare.input(0);
        let destination = &bare.destination;
        let (kernel, axis) = match self {
            Loss::Softmax { axis } => (FLAT_SOFTMAX, axis),
            Loss::LogSoftmax { axis } => (FLAT_LOG_SOFTMAX, axis),
            Loss::LogSumExp { axis, .. } => (FLAT_LOGSUMEXP, axis),
            Loss::Mse | Loss::CrossEntropy => return Bare::unsupported(),
        };
        let lanes = lanes(&in_sizes, bare.at.axis_of(0, *axis));
        let path = kernel.path(Form::Value);
        quote! { #path(#x, #lanes, #destination) }
    }
}

fn cross_entropy(operands: &[Typed<'_>]) -> Result<Shape, ShapeError> {
    let (logits, logits_type) = operands[0];
    let (labels, labels_type) = operands[1];
    expect_dtypes(&operands[..1], &[DType::F32])?;
    if logits.rank() != 2 {
        return Err(rule(format!(
            "needs logits of shape [n, classes], but they are {logits}"
        )));
    }
    let batch = &logits.0[0];
    let ok = match labels_type {
        DType::F32 => labels == logits,
        DType::Usize => labels.0.as_slice() == std::slice::from_ref(batch),
        DType::Bool => {
            return Err(ShapeError::DType {
                operand: 1,
                expected: logits_type,
                actual: labels_type,
            })
        }
    };
    if !ok {
        return Err(rule(format!(
            "needs labels of shape {logits} (probabilities) or [{batch}] (`usize` class indices), but they are {labels}"
        )));
    }
    Ok(Shape(vec![batch.clone()]))
}

/// The number of slices along `axis`: every dim but that one multiplied.
pub fn rows(shape: &Shape, axis: i64) -> Polynomial {
    let at = crate::shape::axis(axis, shape.rank()).ok();
    Polynomial::product(
        shape
            .0
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != at)
            .map(|(_, dim)| dim),
    )
}
