//! The shape rules of the family: NHWC images, HWIO filters and the
//! spatial sizes of convolutions and pools.

use super::Nn;
use crate::diag::Code;
use crate::ir::Padding;
use crate::shape::{rule, Dim, Shape, ShapeError};

pub(super) fn infer(op: &Nn, shapes: &[&Shape]) -> Result<Shape, ShapeError> {
    let x = shapes[0];
    match op {
        Nn::Conv2d {
            strides,
            padding,
            dilation,
        } => {
            let (batch, height, width, channels) = nhwc(x, "input")?;
            let filter = shapes[1];
            if filter.rank() != 4 {
                return Err(rule(Code::OperandShape, format!(
                    "needs a filter of shape [height, width, in_channels, out_channels], but it is {filter}"
                )));
            }
            let (kh, kw) = (literal(filter, 0, "filter")?, literal(filter, 1, "filter")?);
            if filter.0[2] != *channels {
                return Err(rule(
                    Code::OperandShape,
                    format!(
                        "filter expects {} input channels, but the input {x} has {channels}",
                        filter.0[2]
                    ),
                ));
            }
            let out_h = spatial(height, kh, strides[0], dilation[0], *padding, "height")?;
            let out_w = spatial(width, kw, strides[1], dilation[1], *padding, "width")?;
            Ok(Shape(vec![
                batch.clone(),
                Dim::Fixed(out_h),
                Dim::Fixed(out_w),
                filter.0[3].clone(),
            ]))
        }
        Nn::FusedConv2d {
            strides,
            padding,
            dilation,
            bias,
            ..
        } => {
            let conv = Nn::Conv2d {
                strides: *strides,
                padding: *padding,
                dilation: *dilation,
            };
            let out = infer(&conv, &shapes[..2])?;
            // The optimizer fuses only a bias of one value per channel.
            let fits = shapes.get(2).is_none_or(|b| b.0.as_slice() == &out.0[3..]);
            if *bias != (shapes.len() == 3) || !fits {
                return Err(rule(
                    Code::Internal,
                    "takes `(x, filter)` or `(x, filter, bias)`, the bias one value per output channel",
                ));
            }
            Ok(out)
        }
        Nn::Pool2d {
            window,
            strides,
            padding,
            ..
        } => {
            let (batch, height, width, channels) = nhwc(x, "input")?;
            let out_h = spatial(height, window[0], strides[0], 1, *padding, "height")?;
            let out_w = spatial(width, window[1], strides[1], 1, *padding, "width")?;
            Ok(Shape(vec![
                batch.clone(),
                Dim::Fixed(out_h),
                Dim::Fixed(out_w),
                channels.clone(),
            ]))
        }
        Nn::BatchNorm { .. } | Nn::LayerNorm { .. } => {
            let Some(features) = x.0.last() else {
                return Err(rule(
                    Code::OperandShape,
                    "normalises over the last axis, but its input is a scalar",
                ));
            };
            let names = if matches!(op, Nn::BatchNorm { .. }) {
                &["mean", "variance", "scale", "offset"][..]
            } else {
                &["gamma", "beta"][..]
            };
            for (shape, name) in shapes[1..].iter().zip(names) {
                if shape.0.as_slice() != std::slice::from_ref(features) {
                    return Err(rule(Code::OperandShape, format!(
                        "needs `{name}` of shape [{features}], one value per feature of {x}, but it is {shape}"
                    )));
                }
            }
            Ok(x.clone())
        }
        Nn::Gather
        | Nn::OneHot { .. }
        | Nn::GatherGrad { .. }
        | Nn::Conv2dGrad { .. }
        | Nn::Pool2dGrad { .. }
        | Nn::Dropout { .. }
        | Nn::DropoutTrain { .. } => Err(rule(Code::Internal, "has a rule of its own")),
    }
}

fn nhwc<'a>(x: &'a Shape, what: &str) -> Result<(&'a Dim, usize, usize, &'a Dim), ShapeError> {
    if x.rank() != 4 {
        return Err(rule(
            Code::OperandShape,
            format!("needs an {what} of shape [batch, height, width, channels], but it is {x}"),
        ));
    }
    Ok((&x.0[0], literal(x, 1, what)?, literal(x, 2, what)?, &x.0[3]))
}

fn literal(shape: &Shape, axis: usize, what: &str) -> Result<usize, ShapeError> {
    match &shape.0[axis] {
        Dim::Fixed(size) => Ok(*size),
        Dim::Symbol(symbol) => Err(rule(
            Code::SymbolicDim,
            format!("needs a literal size on axis {axis} of its {what} {shape}, not `{symbol}`"),
        )),
    }
}

/// The output size of one spatial axis, as TensorFlow computes it.
pub(super) fn spatial(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: Padding,
    axis: &str,
) -> Result<usize, ShapeError> {
    let effective = kernel
        .checked_sub(1)
        .and_then(|k| k.checked_mul(dilation))
        .and_then(|k| k.checked_add(1))
        .ok_or_else(|| {
            rule(
                Code::OperandShape,
                format!("has an empty or oversized window along the {axis}"),
            )
        })?;
    match padding {
        Padding::Same => Ok(input.div_ceil(stride)),
        Padding::Valid if input >= effective => Ok((input - effective) / stride + 1),
        Padding::Valid => Err(rule(Code::OperandShape, format!(
            "window of {effective} along the {axis} does not fit the input's {input} with `valid` padding; use `padding = same` or a smaller window"
        ))),
    }
}
