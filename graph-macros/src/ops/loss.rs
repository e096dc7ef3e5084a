//! The softmax family and the losses: `softmax`, `log_softmax` and
//! `logsumexp` along one axis, `mse`, and `softmax_cross_entropy` against
//! probabilities or class indices. One family, because the cross-entropy is
//! a log-softmax picked at the labels.

use proc_macro2::TokenStream;
use quote::quote;

use super::kernels::{Call, Form, Kernel};
use super::signature::{attr, Default, Kind, Param, Signature};
use super::{At, Family, Op};
use crate::diag::Code;
use crate::differentiate::Builder;
use crate::emit::bare::{lanes, Bare};
use crate::introspect::Polynomial;
use crate::ir::{DType, NodeId};
use crate::ops::elementwise::Unary;
use crate::ops::nn::Nn;
use crate::shape::{axis, expect_dtypes, reduced, rule, Dim, Shape, ShapeError, Typed};
use crate::train::form::TrainingForm;

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

/// The family's ops under their names in TensorFlow, numpy or `PyTorch`, each
/// with what to write here: `unknown_op` suggests it.
pub static ALIASES: &[(&str, &str)] = &[
    ("softmax_cross_entropy_with_logits", "softmax_cross_entropy"),
    (
        "sparse_softmax_cross_entropy_with_logits",
        "softmax_cross_entropy",
    ),
    ("cross_entropy", "softmax_cross_entropy"),
    ("mean_squared_error", "mse"),
    ("mse_loss", "mse"),
    ("reduce_logsumexp", "logsumexp"),
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
const FLAT_MSE: Kernel = Kernel::flat("mse");
const FLAT_CROSS_ENTROPY: Kernel = Kernel::flat("softmax_cross_entropy");
/// An index that is not a class gives NaN for its row.
const FLAT_CROSS_ENTROPY_INDICES: Kernel = Kernel::flat("softmax_cross_entropy_indices");

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
    FLAT_MSE,
    FLAT_CROSS_ENTROPY,
    FLAT_CROSS_ENTROPY_INDICES,
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
                    return Err(rule(
                        Code::OperandShape,
                        format!(
                            "needs predictions and targets of one shape, but they are {} and {}",
                            x, operands[1].0
                        ),
                    ));
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
            Loss::Softmax { .. }
            | Loss::LogSoftmax { .. }
            | Loss::LogSumExp { .. }
            | Loss::CrossEntropy
            | Loss::Mse => true,
        }
    }

    fn vjp(
        &self,
        node: NodeId,
        g: NodeId,
        b: &mut Builder<'_>,
    ) -> Result<Vec<Option<NodeId>>, String> {
        let x = b.operand(node, 0);
        let shape = b.shape(x);
        let resolve = |a: i64| i64::try_from(axis(a, shape.rank()).unwrap_or(0)).unwrap_or(0);
        match self {
            // y·(g − Σ g·y)
            Loss::Softmax { axis } => {
                let gy = b.mul(g, node);
                let total = b.sum(gy, vec![resolve(*axis)], true);
                let centred = b.sub(g, total);
                Ok(vec![Some(b.mul(node, centred))])
            }
            // g − softmax(x)·Σ g
            Loss::LogSoftmax { axis } => {
                let total = b.sum(g, vec![resolve(*axis)], true);
                let probs = b.unary(Unary::Exp, node);
                let spread = b.mul(probs, total);
                Ok(vec![Some(b.sub(g, spread))])
            }
            // g·e^(x − y): the softmax, scaled.
            Loss::LogSumExp { axis, keep_dims } => {
                let at = axis_of(&shape, *axis);
                let kept = reduced(&shape, &[at], true);
                let (g_kept, y_kept) = if *keep_dims {
                    (g, node)
                } else {
                    (b.reshape(g, &kept), b.reshape(node, &kept))
                };
                let shifted = b.sub(x, y_kept);
                let probs = b.unary(Unary::Exp, shifted);
                Ok(vec![Some(b.mul(g_kept, probs))])
            }
            // 2·(probs − t)·g / N for the predictions, the opposite for the targets.
            Loss::Mse => {
                let target = b.operand(node, 1);
                let all: Vec<usize> = (0..shape.rank()).collect();
                let count = b.count(x, &all);
                let two = b.constant(2.0);
                let doubled = b.mul(g, two);
                let scale = b.div(doubled, count);
                let error = b.sub(x, target);
                let d_pred = b.mul(error, scale);
                Ok(vec![Some(d_pred), Some(b.neg(d_pred))])
            }
            // Per example: g·(softmax(l)·Σy − y) for the logits and −g·log_softmax(l)
            // for probability labels; g·(softmax(l) − one_hot(labels)) for class
            // indices, which have no gradient.
            Loss::CrossEntropy => {
                let labels = b.operand(node, 1);
                let mut column = shape.clone();
                column.0[1] = Dim::Fixed(1);
                let g_column = b.reshape(g, &column);
                let probs = b.push(Op::Loss(Loss::Softmax { axis: -1 }), vec![x]);
                if b.dtype(labels) == DType::Usize {
                    let Dim::Fixed(depth) = shape.0[1] else {
                        return Err(format!(
                            "its gradient needs a literal number of classes, not `{}`",
                            shape.0[1]
                        ));
                    };
                    let one_hot = b.push(Op::Nn(Nn::OneHot { depth }), vec![labels]);
                    let delta = b.sub(probs, one_hot);
                    return Ok(vec![Some(b.mul(g_column, delta)), None]);
                }
                let mass = b.sum(labels, vec![1], true);
                let expected = b.mul(probs, mass);
                let delta = b.sub(expected, labels);
                let d_logits = b.mul(g_column, delta);
                let log_p = b.push(Op::Loss(Loss::LogSoftmax { axis: -1 }), vec![x]);
                let scaled = b.mul(g_column, log_p);
                Ok(vec![Some(d_logits), Some(b.neg(scaled))])
            }
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
            Loss::CrossEntropy => {
                let labels = &bare.operands[1];
                let (rows, classes) = (in_sizes[0], in_sizes[1]);
                let kernel = if bare.at.operand_dtype(1) == DType::Usize {
                    FLAT_CROSS_ENTROPY_INDICES
                } else {
                    FLAT_CROSS_ENTROPY
                };
                let path = kernel.path(Form::Value);
                return quote! { #path(#x, #labels, (#rows, #classes), #destination) };
            }
            Loss::Mse => {
                let target = &bare.operands[1];
                let path = FLAT_MSE.path(Form::Value);
                return quote! { #path(#x, #target, #destination) };
            }
        };
        let lanes = lanes(&in_sizes, bare.at.axis_of(0, *axis));
        let path = kernel.path(Form::Value);
        quote! { #path(#x, #lanes, #destination) }
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

fn cross_entropy(operands: &[Typed<'_>]) -> Result<Shape, ShapeError> {
    let (logits, logits_type) = operands[0];
    let (labels, labels_type) = operands[1];
    expect_dtypes(&operands[..1], &[DType::F32])?;
    if logits.rank() != 2 {
        return Err(rule(
            Code::OperandShape,
            format!("needs logits of shape [n, classes], but they are {logits}"),
        ));
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
        // `f32` labels of the shape of class indices: declared without
        // `as usize`, as a numpy or PyTorch habit would have it.
        let advice = if labels_type == DType::F32 && labels.0.as_slice() == [batch.clone()] {
            "; declare the labels' input `as usize` (e.g. `input labels: [n] as usize;`) to pass \
             class indices"
        } else {
            ""
        };
        return Err(rule(
            Code::OperandShape,
            format!(
                "needs labels of shape {logits} (`f32` probabilities) or [{batch}] (`usize` class \
             indices), but they are {labels} `{}`{advice}",
                labels_type.name()
            ),
        ));
    }
    Ok(Shape(vec![batch.clone()]))
}

fn axis_of(shape: &Shape, a: i64) -> usize {
    axis(a, shape.rank()).unwrap_or(0)
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
