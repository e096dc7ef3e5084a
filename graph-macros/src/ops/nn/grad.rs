//! The gradient rules and training forms of the family: convolution and
//! pool gradients through their backward kernels, batch and layer norm in
//! closed form through the mean and variance, and the training forms of
//! `batch_norm` (batch statistics, running averages) and `dropout` (masks).

use super::{ConvOperand, Nn};
use crate::differentiate::Builder;
use crate::ir::{Bits, DimSpec, NodeId};
use crate::ops::reduce::{Reduce, Reduction};
use crate::ops::Op;
use crate::shape::Dim;
use crate::train::form::TrainingForm;

impl Nn {
    /// The family's gradient rules ([`Family::vjp`]).
    pub(super) fn gradient(
        &self,
        node: NodeId,
        g: NodeId,
        b: &mut Builder<'_>,
    ) -> Result<Vec<Option<NodeId>>, String> {
        match self {
            Nn::Conv2d {
                strides,
                padding,
                dilation,
            } => {
                let (x, filter) = (b.operand(node, 0), b.operand(node, 1));
                let gradient = |wrt| {
                    Op::Nn(Nn::Conv2dGrad {
                        wrt,
                        strides: *strides,
                        padding: *padding,
                        dilation: *dilation,
                    })
                };
                let d_x = b.push(gradient(ConvOperand::Input), vec![x, filter, g]);
                let d_filter = b.push(gradient(ConvOperand::Filter), vec![x, filter, g]);
                Ok(vec![Some(d_x), Some(d_filter)])
            }
            Nn::Pool2d {
                kind,
                window,
                strides,
                padding,
            } => {
                let x = b.operand(node, 0);
                let op = Op::Nn(Nn::Pool2dGrad {
                    kind: *kind,
                    window: *window,
                    strides: *strides,
                    padding: *padding,
                });
                Ok(vec![Some(b.push(op, vec![x, g]))])
            }
            Nn::BatchNorm { epsilon, .. } => Ok(batch_norm_gradient(node, g, *epsilon, b)),
            Nn::Dropout { .. } => Ok(vec![Some(g)]),
            // The same mask, applied to the gradient; the counter has none.
            Nn::DropoutTrain { .. } => {
                let (low, high) = (b.operand(node, 1), b.operand(node, 2));
                let op = b.graph().node(node).op.clone();
                Ok(vec![Some(b.push(op, vec![g, low, high])), None, None])
            }
            Nn::LayerNorm { epsilon } => Ok(layer_norm_gradient(node, g, *epsilon, b)),
            // The rows of `g` added back at their indices; indices have none.
            Nn::Gather => {
                let (table, indices) = (b.operand(node, 0), b.operand(node, 1));
                let rows = match &b.shape(table).0[0] {
                    Dim::Fixed(size) => DimSpec::Fixed(*size),
                    Dim::Symbol(symbol) => DimSpec::Symbol(symbol.clone()),
                };
                let d_table = b.push(Op::Nn(Nn::GatherGrad { rows }), vec![g, indices]);
                Ok(vec![Some(d_table), None])
            }
            Nn::OneHot { .. } => Ok(vec![None]),
            Nn::GatherGrad { .. } | Nn::Conv2dGrad { .. } | Nn::Pool2dGrad { .. } => {
                Err("second derivatives are not available yet".to_string())
            }
            Nn::FusedConv2d { .. } => Err("fused nodes are made after differentiation".to_string()),
        }
    }

    /// The family's training forms ([`Family::training_form`]).
    pub(super) fn training(
        &self,
        _node: NodeId,
        operands: &[NodeId],
        t: &mut TrainingForm<'_, '_>,
    ) -> Result<Option<NodeId>, String> {
        match self {
            Nn::BatchNorm { epsilon, momentum } => {
                batch_norm_training(operands, *epsilon, *momentum, t).map(Some)
            }
            // Nothing to drop: the identity, and no counter.
            Nn::Dropout { rate, .. } if rate.get() == 0.0 => Ok(Some(operands[0])),
            Nn::Dropout { rate, seed } => {
                let [low, high] = t.counter();
                let stream = t.stream();
                let op = Op::Nn(Nn::DropoutTrain {
                    rate: *rate,
                    seed: *seed,
                    stream,
                });
                Ok(Some(t.b.push(op, vec![operands[0], low, high])))
            }
            Nn::Conv2d { .. }
            | Nn::FusedConv2d { .. }
            | Nn::Pool2d { .. }
            | Nn::LayerNorm { .. }
            | Nn::Gather
            | Nn::OneHot { .. }
            | Nn::GatherGrad { .. }
            | Nn::Conv2dGrad { .. }
            | Nn::Pool2dGrad { .. }
            | Nn::DropoutTrain { .. } => Ok(None),
        }
    }
}

/// `1 / √(v + ε)`, elementwise.
fn inverse_deviation(b: &mut Builder<'_>, variance: NodeId, epsilon: Bits) -> NodeId {
    let epsilon = b.constant(epsilon.get());
    let shifted = b.add(variance, epsilon);
    let deviation = b.unary(crate::ops::elementwise::Unary::Sqrt, shifted);
    let one = b.constant(1.0);
    b.div(one, deviation)
}

/// `(x − m)·s/√(v + ε) + o` over the last axis: gradients of `x`, `m`,
/// `v`, `s` and `o`, each an elementwise expression or its sum over the
/// leading axes.
fn batch_norm_gradient(
    node: NodeId,
    g: NodeId,
    epsilon: Bits,
    b: &mut Builder<'_>,
) -> Vec<Option<NodeId>> {
    let [x, mean, variance, scale, _offset] = [0, 1, 2, 3, 4].map(|i| b.operand(node, i));
    let features = b.shape(mean);
    let inv = inverse_deviation(b, variance, epsilon);
    let centred = b.sub(x, mean);
    let factor = b.mul(scale, inv);
    let d_x = b.mul(g, factor);
    let summed = b.sum_to(d_x, &features);
    let d_mean = b.neg(summed);
    // d/dv of (v + ε)^(-1/2) is −½·(v + ε)^(-3/2).
    let inv_squared = b.mul(inv, inv);
    let inv_cubed = b.mul(inv_squared, inv);
    let minus_half = b.constant(-0.5);
    let slope = b.mul(inv_cubed, minus_half);
    let scaled_slope = b.mul(scale, slope);
    let g_centred = b.mul(g, centred);
    let d_var_full = b.mul(g_centred, scaled_slope);
    let d_variance = b.sum_to(d_var_full, &features);
    let normalized = b.mul(centred, inv);
    let d_scale_full = b.mul(g, normalized);
    let d_scale = b.sum_to(d_scale_full, &features);
    let d_offset = b.sum_to(g, &features);
    vec![
        Some(d_x),
        Some(d_mean),
        Some(d_variance),
        Some(d_scale),
        Some(d_offset),
    ]
}

/// `batch_norm`'s training form: the same op over the batch's statistics,
/// per feature (the last axis) over every other axis, the mean `μ` and the
/// biased variance `σ² = mean((x − μ)²)` (as Keras and `PyTorch` normalise);
/// and the updates `mean ← m·mean + (1 − m)·μ`, `variance ← m·variance +
/// (1 − m)·σ²` of the running statistics, `m` the momentum (Keras's
/// convention, with the biased `σ²` as Keras keeps it). Its gradient is
/// the inference form's through the statistics, which are ordinary nodes.
fn batch_norm_training(
    operands: &[NodeId],
    epsilon: Bits,
    momentum: Bits,
    t: &mut TrainingForm<'_, '_>,
) -> Result<NodeId, String> {
    let [x, mean, variance, scale, offset] = [0, 1, 2, 3, 4].map(|i| operands[i]);
    let not_variables: Vec<String> = [(mean, "mean"), (variance, "variance")]
        .into_iter()
        .filter_map(|(id, role)| {
            let operand = t.b.graph().node(id);
            let what = match (&operand.name, &operand.op) {
                (_, Op::Variable) => return None,
                (Some(name), Op::Input) => format!("`{name}`, an input"),
                (Some(name), Op::Constant(_)) => format!("`{name}`, a constant"),
                (Some(name), _) => format!("`{name}`, a computed value"),
                (None, Op::Constant(_)) => "a literal".to_string(),
                (None, op) => format!("computed by `{}`", op.word()),
            };
            Some(format!("its `{role}` is {what}"))
        })
        .collect();
    if !not_variables.is_empty() {
        return Err(format!(
            "that form updates its running `mean` and `variance` with the batch's statistics, \
             so both must be variables: {}",
            not_variables.join("; ")
        ));
    }
    let shape = t.b.shape(x);
    if shape.rank() < 2 {
        return Err(format!(
            "that form takes the batch's statistics over every axis of its input but the last, and the input {shape} has no other"
        ));
    }
    let axes: Vec<i64> = (0..shape.rank() - 1)
        .map(|axis| i64::try_from(axis).unwrap_or(0))
        .collect();
    let batch_mean = mean_over(&mut t.b, x, &axes);
    let centred = t.b.sub(x, batch_mean);
    let squares = t.b.unary(crate::ops::elementwise::Unary::Square, centred);
    let batch_variance = mean_over(&mut t.b, squares, &axes);
    let op = Op::Nn(Nn::BatchNorm { epsilon, momentum });
    let normalized =
        t.b.push(op, vec![x, batch_mean, batch_variance, scale, offset]);
    let kept = t.b.constant(momentum.get());
    #[allow(clippy::cast_possible_truncation)] // The complement, rounded once.
    let taken = t.b.constant((1.0 - f64::from(momentum.get())) as f32);
    for (running, batch) in [(mean, batch_mean), (variance, batch_variance)] {
        let old = t.b.mul(kept, running);
        let new = t.b.mul(taken, batch);
        let average = t.b.add(old, new);
        t.update(running, average);
    }
    Ok(normalized)
}

/// The mean of `x` over `axes`, dropped.
fn mean_over(b: &mut Builder<'_>, x: NodeId, axes: &[i64]) -> NodeId {
    b.push(
        Op::Reduction(Reduction::Reduce {
            kind: Reduce::Mean,
            axes: Some(axes.to_vec()),
            keep_dims: false,
        }),
        vec![x],
    )
}

/// The mean over the last axis, kept.
fn row_mean(b: &mut Builder<'_>, x: NodeId) -> NodeId {
    b.push(
        Op::Reduction(Reduction::Reduce {
            kind: Reduce::Mean,
            axes: Some(vec![-1]),
            keep_dims: true,
        }),
        vec![x],
    )
}

/// `x̂·γ + β` with `x̂ = (x − μ)/√(σ² + ε)` per row: `x`'s gradient is
/// `(g·γ − mean(g·γ) − x̂·mean(g·γ·x̂)) / √(σ² + ε)`; γ's the sum of `g·x̂`
/// and β's the sum of `g` over the leading axes.
fn layer_norm_gradient(
    node: NodeId,
    g: NodeId,
    epsilon: Bits,
    b: &mut Builder<'_>,
) -> Vec<Option<NodeId>> {
    let [x, gamma, _beta] = [0, 1, 2].map(|i| b.operand(node, i));
    let features = b.shape(gamma);
    let mu = row_mean(b, x);
    let centred = b.sub(x, mu);
    let squares = b.unary(crate::ops::elementwise::Unary::Square, centred);
    let variance = row_mean(b, squares);
    let inv = inverse_deviation(b, variance, epsilon);
    let normalized = b.mul(centred, inv);
    let scaled = b.mul(g, gamma);
    let mean_scaled = row_mean(b, scaled);
    let weighted = b.mul(scaled, normalized);
    let mean_weighted = row_mean(b, weighted);
    let centred_g = b.sub(scaled, mean_scaled);
    let along = b.mul(normalized, mean_weighted);
    let inner = b.sub(centred_g, along);
    let d_x = b.mul(inner, inv);
    let d_gamma_full = b.mul(g, normalized);
    let d_gamma = b.sum_to(d_gamma_full, &features);
    let d_beta = b.sum_to(g, &features);
    vec![Some(d_x), Some(d_gamma), Some(d_beta)]
}
