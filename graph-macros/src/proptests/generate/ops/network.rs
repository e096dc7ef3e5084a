//! Generator rules of the losses and neural-network ops: `mse`,
//! `softmax_cross_entropy`, `conv2d`, the pools, `batch_norm`,
//! `layer_norm`, `dropout` and `gather`.

use super::super::{Dim, Generator, Precedence, Shape, Type, Value};
use super::{attr, tensor, Arg};

/// TensorFlow's output size along one spatial axis; `None` where a `valid`
/// window does not fit.
fn spatial(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    same: bool,
) -> Option<usize> {
    let effective = (kernel - 1) * dilation + 1;
    if same {
        Some(input.div_ceil(stride))
    } else if input >= effective {
        Some((input - effective) / stride + 1)
    } else {
        None
    }
}

impl Generator<'_> {
    /// `x` if it is an NHWC image batch with literal height and width, else
    /// a fresh input that is one.
    fn image(&mut self, x: &Value) -> Value {
        if let [_, Dim::Fixed(_), Dim::Fixed(_), _] = x.shape.0.as_slice() {
            return x.clone();
        }
        let batch = if self.choices.chance(50) {
            Dim::Symbol("n")
        } else {
            Dim::Fixed(self.choices.between(1, 2))
        };
        let shape = Shape(vec![
            batch,
            Dim::Fixed(self.choices.between(1, 8)),
            Dim::Fixed(self.choices.between(1, 8)),
            Dim::Fixed(self.choices.between(1, 3)),
        ]);
        self.input(shape, Type::F32)
    }

    /// A window, stride or dilation pair, written as one integer or two.
    fn pair(&mut self, max: usize) -> ([usize; 2], String) {
        if self.choices.chance(50) {
            let pair = [self.choices.between(1, max), self.choices.between(1, max)];
            (pair, format!("[{}, {}]", pair[0], pair[1]))
        } else {
            let size = self.choices.between(1, max);
            ([size, size], size.to_string())
        }
    }

    /// `padding`, left out (`valid`) or written; `same` wherever a `valid`
    /// window would not fit.
    fn padding(&mut self, fits: bool, position: usize, args: &mut Vec<Arg>) -> bool {
        let same = !fits || self.choices.chance(40);
        if same || self.choices.chance(30) {
            let text = if same { "same" } else { "valid" };
            args.push(attr(position, "padding", text.into()));
        }
        same
    }

    pub(super) fn conv2d(&mut self, x: &Value) -> Value {
        let x = self.image(x);
        let dims = x.shape.0.clone();
        let (Dim::Fixed(height), Dim::Fixed(width)) = (&dims[1], &dims[2]) else {
            unreachable!("`image` gives literal heights and widths")
        };
        let (height, width) = (*height, *width);
        let kernel = [self.choices.between(1, 3), self.choices.between(1, 3)];
        let outputs = self.dim(true);
        let filter = self.operand(&Shape(vec![
            Dim::Fixed(kernel[0]),
            Dim::Fixed(kernel[1]),
            dims[3].clone(),
            outputs.clone(),
        ]));
        let mut args = vec![tensor(0, "x", &x), tensor(1, "filter", &filter)];
        let mut strides = [1, 1];
        if self.choices.chance(50) {
            let (pair, text) = self.pair(3);
            strides = pair;
            args.push(attr(2, "strides", text));
        }
        let mut dilation = [1, 1];
        let dilation_text = if self.choices.chance(30) {
            let (pair, text) = self.pair(2);
            dilation = pair;
            Some(text)
        } else {
            None
        };
        let fits = spatial(height, kernel[0], strides[0], dilation[0], false).is_some()
            && spatial(width, kernel[1], strides[1], dilation[1], false).is_some();
        let same = self.padding(fits, 3, &mut args);
        if let Some(text) = dilation_text {
            args.push(attr(4, "dilation", text));
        }
        let out_height = spatial(height, kernel[0], strides[0], dilation[0], same);
        let out_width = spatial(width, kernel[1], strides[1], dilation[1], same);
        let (Some(out_height), Some(out_width)) = (out_height, out_width) else {
            unreachable!("`padding` picks `same` where `valid` does not fit")
        };
        let shape = Shape(vec![
            dims[0].clone(),
            Dim::Fixed(out_height),
            Dim::Fixed(out_width),
            outputs.clone(),
        ]);
        let conv = self.call_value("conv2d", &args, shape);
        self.layer_epilogue(conv, outputs)
    }

    /// Often what a layer does after its convolution: a bias of one value
    /// per channel (either side of the `+`), then an activation, which the
    /// optimizer fuses into the convolution.
    fn layer_epilogue(&mut self, conv: Value, channels: Dim) -> Value {
        if !self.choices.chance(40) {
            return conv;
        }
        let shape = conv.shape.clone();
        let mut value = conv;
        if self.choices.chance(70) {
            let bias = self.operand(&Shape(vec![channels]));
            let text = if self.choices.chance(50) {
                format!(
                    "{} + {}",
                    value.text,
                    bias.within(Precedence::Multiplicative)
                )
            } else {
                format!("{} + {}", bias.within(Precedence::Additive), value.text)
            };
            value = Value {
                text,
                shape: shape.clone(),
                ty: Type::F32,
                precedence: Precedence::Additive,
            };
        }
        if self.choices.chance(60) {
            let activation = *self.choices.pick(&["relu", "tanh", "sigmoid", "exp"]);
            value = Value::atom(format!("{activation}({})", value.text), shape, Type::F32);
        }
        value
    }

    /// `max_pool2d` or `avg_pool2d`, strides defaulting to the window.
    pub(super) fn pool2d(&mut self, x: &Value) -> Value {
        let x = self.image(x);
        let dims = x.shape.0.clone();
        let (Dim::Fixed(height), Dim::Fixed(width)) = (&dims[1], &dims[2]) else {
            unreachable!("`image` gives literal heights and widths")
        };
        let (height, width) = (*height, *width);
        let (window, window_text) = self.pair(3);
        let mut args = vec![tensor(0, "x", &x), attr(1, "window", window_text)];
        let mut strides = window;
        if self.choices.chance(40) {
            let (pair, text) = self.pair(3);
            strides = pair;
            args.push(attr(2, "strides", text));
        }
        let fits = height >= window[0] && width >= window[1];
        let same = self.padding(fits, 3, &mut args);
        let out_height = spatial(height, window[0], strides[0], 1, same);
        let out_width = spatial(width, window[1], strides[1], 1, same);
        let (Some(out_height), Some(out_width)) = (out_height, out_width) else {
            unreachable!("`padding` picks `same` where `valid` does not fit")
        };
        let op = *self.choices.pick(&["max_pool2d", "avg_pool2d"]);
        let shape = Shape(vec![
            dims[0].clone(),
            Dim::Fixed(out_height),
            Dim::Fixed(out_width),
            dims[3].clone(),
        ]);
        self.call_value(op, &args, shape)
    }

    /// `batch_norm` or `layer_norm`: per-feature parameters of the last
    /// axis; the shape is unchanged. Or `dropout`, the identity outside
    /// training steps, of any shape.
    pub(super) fn normalize(&mut self, x: &Value) -> Value {
        if self.choices.chance(20) {
            let mut args = vec![tensor(0, "x", x), attr(1, "rate", "0.5".into())];
            args.push(attr(2, "seed", self.choices.below(100).to_string()));
            let shape = x.shape.clone();
            return self.call_value("dropout", &args, shape);
        }
        let Some(features) = x.shape.0.last().cloned() else {
            return self.unary(x);
        };
        let (op, names): (&str, &[&'static str]) = if self.choices.chance(50) {
            ("layer_norm", &["gamma", "beta"])
        } else {
            ("batch_norm", &["mean", "variance", "scale", "offset"])
        };
        let mut args = vec![tensor(0, "x", x)];
        for (index, name) in names.iter().enumerate() {
            let parameter = self.operand(&Shape(vec![features.clone()]));
            args.push(tensor(index + 1, name, &parameter));
        }
        if self.choices.chance(30) {
            args.push(attr(names.len() + 1, "epsilon", "1e-5".into()));
        }
        if op == "batch_norm" && self.choices.chance(30) {
            args.push(attr(names.len() + 2, "momentum", "0.9".into()));
        }
        let shape = x.shape.clone();
        self.call_value(op, &args, shape)
    }

    /// `gather(table, indices)` (or `embedding`): rows of `x` picked by
    /// `usize` indices of any shape.
    pub(super) fn gather(&mut self, x: &Value) -> Value {
        let Some((_, row)) = x.shape.0.split_first() else {
            return self.unary(x);
        };
        let row = row.to_vec();
        let indices = match self.existing(Type::Usize, |_| true) {
            Some(indices) if self.choices.chance(50) => indices,
            _ => {
                let shape = self.shape(2, true);
                self.input(shape, Type::Usize)
            }
        };
        let mut shape = indices.shape.clone();
        shape.0.extend(row);
        let op = *self.choices.pick(&["gather", "embedding"]);
        let args = [tensor(0, "table", x), tensor(1, "indices", &indices)];
        self.call_value(op, &args, shape)
    }

    /// `mse(x, target)`: a scalar.
    pub(super) fn mse(&mut self, x: &Value) -> Value {
        let target = if self.choices.chance(30) {
            self.unary(x)
        } else {
            self.operand(&x.shape)
        };
        let args = [tensor(0, "pred", x), tensor(1, "target", &target)];
        self.call_value("mse", &args, Shape::default())
    }

    /// `softmax_cross_entropy` of `[n, c]` logits against probabilities of
    /// the same shape or `usize` class indices `[n]`: `[n]`.
    pub(super) fn cross_entropy(&mut self, x: &Value) -> Value {
        let logits = if x.shape.rank() == 2 {
            x.clone()
        } else {
            let shape = Shape(vec![self.dim(true), self.dim(true)]);
            self.operand(&shape)
        };
        let batch = logits.shape.0[0].clone();
        let labels = match self.choices.below(3) {
            0 => self.operand(&logits.shape),
            1 => {
                let text = self.call("softmax", &[tensor(0, "x", &logits)]);
                Value::atom(text, logits.shape.clone(), Type::F32)
            }
            _ => {
                let shape = Shape(vec![batch.clone()]);
                match self.existing(Type::Usize, |s| *s == shape) {
                    Some(labels) => labels,
                    None => self.input(shape, Type::Usize),
                }
            }
        };
        let args = [tensor(0, "logits", &logits), tensor(1, "labels", &labels)];
        self.call_value("softmax_cross_entropy", &args, Shape(vec![batch]))
    }
}
