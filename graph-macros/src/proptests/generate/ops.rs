//! The op rules of the generator, one method per op family. Each takes its
//! main operand, finds or declares the others with shapes the op's rule
//! accepts, and returns the call with the result the reference gives it.
//! Where an operand does not fit (a scalar where a matrix is needed), the
//! rule falls back to an elementwise op, which takes anything.

use super::{broadcast, Dim, Generator, Precedence, Shape, Type, Value};

mod layout;
mod network;

/// One argument of a call: its parameter's position and name, and its text.
struct Arg {
    position: usize,
    name: &'static str,
    text: String,
    atom: bool,
}

fn tensor(position: usize, name: &'static str, value: &Value) -> Arg {
    Arg {
        position,
        name,
        text: value.text.clone(),
        atom: value.precedence == Precedence::Atom,
    }
}

fn attr(position: usize, name: &'static str, text: String) -> Arg {
    Arg {
        position,
        name,
        atom: !text.starts_with('-'),
        text,
    }
}

/// An axis as the user may write it: counted from the front or the back.
fn axis_text(axis: usize, rank: usize, from_back: bool) -> String {
    if from_back {
        format!("-{}", rank - axis)
    } else {
        axis.to_string()
    }
}

const UNARY: [&str; 13] = [
    "relu",
    "neg",
    "abs",
    "exp",
    "log",
    "sqrt",
    "square",
    "sigmoid",
    "tanh",
    "gelu_tanh",
    "gelu_exact",
    "erf",
    "softplus",
];

impl Generator<'_> {
    /// An `f32` expression of at most `budget` more ops.
    pub(super) fn expression(&mut self) -> Value {
        if self.budget == 0 {
            return self.leaf();
        }
        self.budget -= 1;
        let x = self.expression();
        match self.choices.below(25) {
            0 | 1 => self.unary(&x),
            2..=4 => self.binary(&x),
            5 => self.select(&x),
            6 => self.reduce(&x),
            7 => self.softmax(&x),
            8 => self.logsumexp(&x),
            9 | 10 => self.matmul(&x),
            11 => self.transpose(&x),
            12 => self.reshape(&x),
            13 => self.concat(&x),
            14 => self.slice(&x),
            15 => self.broadcast_to(&x),
            16 => self.expand_dims(&x),
            17 => self.squeeze(&x),
            18 => self.mse(&x),
            19 => self.conv2d(&x),
            20 => self.pool2d(&x),
            21 => self.normalize(&x),
            22 => self.gather(&x),
            23 => self.pad(&x),
            _ => self.cross_entropy(&x),
        }
    }

    /// `op(args..)` or `first.op(rest..)`; a prefix of the arguments given in
    /// parameter order may be positional, the others are named, in any order.
    fn call(&mut self, op: &str, args: &[Arg]) -> String {
        let in_order = args
            .iter()
            .enumerate()
            .take_while(|(index, arg)| arg.position == *index)
            .count();
        let positional = in_order - self.choices.below(in_order + 1);
        let method = positional > 0 && self.choices.chance(25);
        let mut named: Vec<String> = args[positional..]
            .iter()
            .map(|arg| format!("{} = {}", arg.name, arg.text))
            .collect();
        self.choices.shuffle(&mut named);
        let mut list: Vec<String> = args[..positional]
            .iter()
            .map(|arg| arg.text.clone())
            .collect();
        list.extend(named);
        if method {
            let receiver = &args[0];
            let receiver = if receiver.atom {
                receiver.text.clone()
            } else {
                format!("({})", receiver.text)
            };
            format!("{receiver}.{op}({})", list[1..].join(", "))
        } else {
            format!("{op}({})", list.join(", "))
        }
    }

    /// A call returning an `f32` value of `shape`.
    fn call_value(&mut self, op: &str, args: &[Arg], shape: Shape) -> Value {
        let text = self.call(op, args);
        Value::atom(text, shape, Type::F32)
    }

    /// An elementwise function of `x`: its shape is `x`'s.
    pub(super) fn unary(&mut self, x: &Value) -> Value {
        let shape = x.shape.clone();
        match self.choices.below(5) {
            1 => {
                let operand = x.within(Precedence::Prefix);
                let space = if operand.starts_with('-') { " " } else { "" };
                Value {
                    text: format!("-{space}{operand}"),
                    shape,
                    ty: Type::F32,
                    precedence: Precedence::Prefix,
                }
            }
            2 => {
                let args = match self.choices.below(3) {
                    0 => ("pow", vec![attr(1, "p", "2.0".into())]),
                    1 if self.choices.chance(50) => ("leaky_relu", Vec::new()),
                    1 => ("leaky_relu", vec![attr(1, "alpha", "0.1".into())]),
                    _ => (
                        "clip",
                        vec![attr(1, "lo", "-1.0".into()), attr(2, "hi", "1".into())],
                    ),
                };
                let mut all = vec![tensor(0, "x", x)];
                all.extend(args.1);
                self.call_value(args.0, &all, shape)
            }
            3 => Value::atom(format!("({})", x.text), shape, Type::F32),
            _ => {
                let op = *self.choices.pick(&UNARY);
                self.call_value(op, &[tensor(0, "x", x)], shape)
            }
        }
    }

    /// `left op right` with one of `+ - * /`; the shapes must broadcast.
    pub(super) fn arithmetic(&mut self, left: &Value, right: &Value) -> Value {
        let shape = broadcast(&left.shape, &right.shape)
            .expect("the generator pairs only shapes that broadcast");
        let (operator, precedence, right_at) = *self.choices.pick(&[
            ('+', Precedence::Additive, Precedence::Multiplicative),
            ('*', Precedence::Multiplicative, Precedence::Prefix),
            ('-', Precedence::Additive, Precedence::Multiplicative),
            ('/', Precedence::Multiplicative, Precedence::Prefix),
        ]);
        Value {
            text: format!(
                "{} {operator} {}",
                left.within(precedence),
                right.within(right_at)
            ),
            shape,
            ty: Type::F32,
            precedence,
        }
    }

    /// A second operand for a broadcasting op on `x`.
    fn partner(&mut self, x: &Value) -> Value {
        if self.choices.chance(25) {
            let shape = self.stretching(&x.shape);
            self.operand(&shape)
        } else {
            self.broadcasting_into(&x.shape)
        }
    }

    /// A binary elementwise op, as an operator or a call, either way round.
    fn binary(&mut self, x: &Value) -> Value {
        let other = self.partner(x);
        let (left, right) = if self.choices.chance(50) {
            (&other, x)
        } else {
            (x, &other)
        };
        if self.choices.chance(70) {
            return self.arithmetic(left, right);
        }
        let shape =
            broadcast(&left.shape, &right.shape).expect("`partner` gives a shape that broadcasts");
        let op = *self
            .choices
            .pick(&["maximum", "add", "sub", "mul", "div", "minimum"]);
        self.call_value(op, &[tensor(0, "a", left), tensor(1, "b", right)], shape)
    }

    /// A comparison: a `bool` mask of the broadcast shape.
    pub(super) fn comparison(&mut self) -> Value {
        let x = self.expression();
        let other = self.partner(&x);
        let shape =
            broadcast(&x.shape, &other.shape).expect("`partner` gives a shape that broadcasts");
        let op = *self.choices.pick(&["gt", "ge", "lt", "le", "eq"]);
        let text = self.call(op, &[tensor(0, "a", &x), tensor(1, "b", &other)]);
        Value::atom(text, shape, Type::Bool)
    }

    /// `select(mask, x, b)` with a mask and `b` that broadcast into `x`.
    fn select(&mut self, x: &Value) -> Value {
        let target = x.shape.clone();
        let existing = self.existing(Type::Bool, |mask| {
            broadcast(mask, &target).as_ref() == Some(&target)
        });
        let mask = if let Some(mask) = existing {
            mask
        } else {
            let other = self.broadcasting_into(&target);
            let op = *self.choices.pick(&["gt", "lt", "eq"]);
            let text = self.call(op, &[tensor(0, "a", x), tensor(1, "b", &other)]);
            Value::atom(text, target.clone(), Type::Bool)
        };
        let b = self.broadcasting_into(&target);
        let args = [
            tensor(0, "mask", &mask),
            tensor(1, "a", x),
            tensor(2, "b", &b),
        ];
        self.call_value("select", &args, target)
    }

    /// Distinct axes of a rank-`rank` operand, in random order.
    fn some_axes(&mut self, rank: usize) -> Vec<usize> {
        let mut axes: Vec<usize> = (0..rank).collect();
        self.choices.shuffle(&mut axes);
        axes.truncate(self.choices.between(1, rank.max(1)));
        axes
    }

    fn axes_text(&mut self, axes: &[usize], rank: usize) -> String {
        let texts: Vec<String> = axes
            .iter()
            .map(|&axis| {
                let from_back = self.choices.chance(30);
                axis_text(axis, rank, from_back)
            })
            .collect();
        format!("[{}]", texts.join(", "))
    }

    /// `sum`, `mean`, `max` or `min` over all axes, one, or a list.
    fn reduce(&mut self, x: &Value) -> Value {
        let rank = x.shape.rank();
        let op = *self.choices.pick(&["sum", "mean", "max", "min"]);
        let keep_dims = self.choices.chance(30);
        let mut args = vec![tensor(0, "x", x)];
        let axes: Vec<usize> = match self.choices.below(3) {
            1 if rank > 0 => {
                let axis = self.choices.below(rank);
                let from_back = self.choices.chance(30);
                args.push(attr(1, "axis", axis_text(axis, rank, from_back)));
                vec![axis]
            }
            2 if rank > 0 => {
                let axes = self.some_axes(rank);
                let text = self.axes_text(&axes, rank);
                args.push(attr(1, "axis", text));
                axes
            }
            _ => (0..rank).collect(),
        };
        if keep_dims || self.choices.chance(10) {
            args.push(attr(2, "keep_dims", keep_dims.to_string()));
        }
        let shape = reduced(&x.shape, &axes, keep_dims);
        self.call_value(op, &args, shape)
    }

    /// Maybe adds an `axis` argument (default `-1`) for a rank-`rank`
    /// operand; returns the axis meant.
    fn last_axis_by_default(&mut self, rank: usize, args: &mut Vec<Arg>) -> usize {
        if self.choices.chance(50) {
            let axis = self.choices.below(rank);
            let from_back = self.choices.chance(50);
            args.push(attr(1, "axis", axis_text(axis, rank, from_back)));
            axis
        } else {
            rank - 1
        }
    }

    /// `softmax` or `log_softmax` along one axis: the shape is unchanged.
    fn softmax(&mut self, x: &Value) -> Value {
        let rank = x.shape.rank();
        if rank == 0 {
            return self.unary(x);
        }
        let op = *self.choices.pick(&["softmax", "log_softmax"]);
        let mut args = vec![tensor(0, "x", x)];
        self.last_axis_by_default(rank, &mut args);
        self.call_value(op, &args, x.shape.clone())
    }

    /// `logsumexp` along one axis, which goes or stays as 1.
    fn logsumexp(&mut self, x: &Value) -> Value {
        let rank = x.shape.rank();
        if rank == 0 {
            return self.unary(x);
        }
        let mut args = vec![tensor(0, "x", x)];
        let axis = self.last_axis_by_default(rank, &mut args);
        let keep_dims = self.choices.chance(30);
        if keep_dims {
            args.push(attr(2, "keep_dims", "true".into()));
        }
        let shape = reduced(&x.shape, &[axis], keep_dims);
        self.call_value("logsumexp", &args, shape)
    }

    /// `argmax` along an axis of literal, non-zero size: `usize` indices.
    pub(super) fn argmax(&mut self) -> Value {
        let mut x = self.expression();
        let nonempty = |shape: &Shape| -> Vec<usize> {
            (0..shape.rank())
                .filter(|&axis| matches!(shape.0[axis], Dim::Fixed(size) if size > 0))
                .collect()
        };
        let mut candidates = nonempty(&x.shape);
        if candidates.is_empty() {
            let size = self.choices.between(1, 4);
            x = self.input(Shape(vec![Dim::Fixed(size)]), Type::F32);
            candidates = vec![0];
        }
        let rank = x.shape.rank();
        let axis = *self.choices.pick(&candidates);
        let mut args = vec![tensor(0, "x", &x)];
        if axis != rank - 1 || self.choices.chance(30) {
            let from_back = self.choices.chance(50);
            args.push(attr(1, "axis", axis_text(axis, rank, from_back)));
        }
        let text = self.call("argmax", &args);
        Value::atom(text, reduced(&x.shape, &[axis], false), Type::Usize)
    }

    /// numpy's `matmul` on 1-D, 2-D and batched 3-D operands.
    fn matmul(&mut self, x: &Value) -> Value {
        let dims = x.shape.0.clone();
        let inner = match dims.last() {
            Some(inner) if dims.len() <= 3 => inner.clone(),
            _ => return self.unary(x),
        };
        let columns = self.dim(true);
        let vector = dims.len() < 3 && self.choices.chance(25);
        let (right, mut result): (Vec<Dim>, Vec<Dim>) = if vector {
            (vec![inner], dims[..dims.len() - 1].to_vec())
        } else if dims.len() == 3 && self.choices.chance(50) {
            (
                vec![dims[0].clone(), inner, columns.clone()],
                dims[..2].to_vec(),
            )
        } else {
            (
                vec![inner, columns.clone()],
                dims[..dims.len() - 1].to_vec(),
            )
        };
        if !vector {
            result.push(columns);
        }
        let right = self.operand(&Shape(right));
        let args = [tensor(0, "a", x), tensor(1, "b", &right)];
        self.call_value("matmul", &args, Shape(result))
    }
}

/// `shape` without `axes`, or with them as 1.
fn reduced(shape: &Shape, axes: &[usize], keep_dims: bool) -> Shape {
    Shape(
        shape
            .0
            .iter()
            .enumerate()
            .filter_map(|(axis, dim)| match (axes.contains(&axis), keep_dims) {
                (false, _) => Some(dim.clone()),
                (true, true) => Some(Dim::Fixed(1)),
                (true, false) => None,
            })
            .collect(),
    )
}
