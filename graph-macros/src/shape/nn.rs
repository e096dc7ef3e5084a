//! Shape rules of the neural-network ops: `conv2d`, the 2-D pools,
//! `batch_norm` and `layer_norm`.
//!
//! Convolution and pooling follow TensorFlow: NHWC inputs, HWIO filters, and
//! for a window of effective size `e = (k - 1)·dilation + 1`,
//! `valid` gives `(in - e) / stride + 1` outputs (the input must hold one
//! window) and `same` gives `ceil(in / stride)`.

use super::{rule, Dim, Shape, ShapeError};
use crate::ir::{Op, Padding};

pub fn infer(op: &Op, shapes: &[&Shape]) -> Result<Shape, ShapeError> {
    let x = shapes[0];
    match op {
        Op::Conv2d {
            strides,
            padding,
            dilation,
        } => {
            let (batch, height, width, channels) = nhwc(x, "input")?;
            let filter = shapes[1];
            if filter.rank() != 4 {
                return Err(rule(format!(
                    "needs a filter of shape [height, width, in_channels, out_channels], but it is {filter}"
                )));
            }
            let (kh, kw) = (literal(filter, 0, "filter")?, literal(filter, 1, "filter")?);
            if filter.0[2] != *channels {
                return Err(rule(format!(
                    "filter expects {} input channels, but the input {x} has {channels}",
                    filter.0[2]
                )));
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
        Op::Pool2d {
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
        Op::BatchNorm { .. } | Op::LayerNorm { .. } => {
            let Some(features) = x.0.last() else {
                return Err(rule(
                    "normalises over the last axis, but its input is a scalar",
                ));
            };
            let names = if matches!(op, Op::BatchNorm { .. }) {
                &["mean", "variance", "scale", "offset"][..]
            } else {
                &["gamma", "beta"][..]
            };
            for (shape, name) in shapes[1..].iter().zip(names) {
                if shape.0.as_slice() != std::slice::from_ref(features) {
                    return Err(rule(format!(
                        "needs `{name}` of shape [{features}], one value per feature of {x}, but it is {shape}"
                    )));
                }
            }
            Ok(x.clone())
        }
        _ => Err(rule("is not a neural-network op")),
    }
}

fn nhwc<'a>(x: &'a Shape, what: &str) -> Result<(&'a Dim, usize, usize, &'a Dim), ShapeError> {
    if x.rank() != 4 {
        return Err(rule(format!(
            "needs an {what} of shape [batch, height, width, channels], but it is {x}"
        )));
    }
    Ok((&x.0[0], literal(x, 1, what)?, literal(x, 2, what)?, &x.0[3]))
}

fn literal(shape: &Shape, axis: usize, what: &str) -> Result<usize, ShapeError> {
    match &shape.0[axis] {
        Dim::Fixed(size) => Ok(*size),
        Dim::Symbol(symbol) => Err(rule(format!(
            "needs a literal size on axis {axis} of its {what} {shape}, not `{symbol}`"
        ))),
    }
}

/// The output size of one spatial axis, as TensorFlow computes it.
pub fn spatial(
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
        .ok_or_else(|| rule(format!("has an empty or oversized window along the {axis}")))?;
    match padding {
        Padding::Same => Ok(input.div_ceil(stride)),
        Padding::Valid if input >= effective => Ok((input - effective) / stride + 1),
        Padding::Valid => Err(rule(format!(
            "window of {effective} along the {axis} does not fit the input's {input} with `valid` padding; use `padding = same` or a smaller window"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::tests::shape;

    #[test]
    fn spatial_sizes_match_tensorflow() {
        // Hand-computed from TF's formulas.
        assert_eq!(spatial(8, 3, 1, 1, Padding::Valid, "h"), Ok(6));
        assert_eq!(spatial(8, 3, 1, 1, Padding::Same, "h"), Ok(8));
        assert_eq!(spatial(8, 2, 2, 1, Padding::Same, "h"), Ok(4));
        assert_eq!(spatial(7, 4, 2, 1, Padding::Same, "h"), Ok(4));
        assert_eq!(spatial(7, 4, 2, 1, Padding::Valid, "h"), Ok(2));
        assert_eq!(spatial(8, 3, 1, 2, Padding::Valid, "h"), Ok(4));
        assert!(spatial(2, 3, 1, 1, Padding::Valid, "h").is_err());
    }

    #[test]
    fn conv_and_pool_shapes() {
        let conv = Op::Conv2d {
            strides: [1, 1],
            padding: Padding::Valid,
            dilation: [1, 1],
        };
        assert_eq!(
            infer(&conv, &[&shape("n, 8, 8, 1"), &shape("3, 3, 1, 4")]),
            Ok(shape("n, 6, 6, 4"))
        );
        assert!(infer(&conv, &[&shape("n, 8, 8, 2"), &shape("3, 3, 1, 4")]).is_err());
        assert!(infer(&conv, &[&shape("n, h, 8, 1"), &shape("3, 3, 1, 4")]).is_err());
        let pool = Op::Pool2d {
            kind: crate::ir::Pool::Max,
            window: [2, 2],
            strides: [2, 2],
            padding: Padding::Valid,
        };
        assert_eq!(
            infer(&pool, &[&shape("n, 6, 6, 4")]),
            Ok(shape("n, 3, 3, 4"))
        );
    }
}
