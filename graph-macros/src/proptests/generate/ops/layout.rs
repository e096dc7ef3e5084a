//! Generator rules of the data-movement ops: `transpose` and `permute`,
//! `reshape`, `concat`, `slice`, `broadcast_to`, `expand_dims`, `squeeze`.

use super::super::{Dim, Generator, Kind, Shape, Value};
use super::{attr, axis_text, tensor};

impl Generator<'_> {
    /// `transpose(x)` reverses the axes; `permute(x, axes)` and
    /// `transpose(x, axes = ..)` reorder them.
    pub(super) fn transpose(&mut self, x: &Value) -> Value {
        let rank = x.shape.rank();
        if self.choices.below(2) == 0 {
            let shape = Shape(x.shape.0.iter().rev().cloned().collect());
            return self.call_value("transpose", &[tensor(0, "x", x)], shape);
        }
        let mut order: Vec<usize> = (0..rank).collect();
        self.choices.shuffle(&mut order);
        let text = self.axes_text(&order, rank);
        let shape = Shape(order.iter().map(|&axis| x.shape.0[axis].clone()).collect());
        let op = *self.choices.pick(&["permute", "transpose"]);
        self.call_value(op, &[tensor(0, "x", x), attr(1, "axes", text)], shape)
    }

    /// `reshape` to the same symbols and a factorisation of the literal
    /// element count, maybe with extra 1s and one dim written `-1`.
    pub(super) fn reshape(&mut self, x: &Value) -> Value {
        let mut product = 1usize;
        let mut target: Vec<Dim> = Vec::new();
        for dim in &x.shape.0 {
            match dim {
                Dim::Fixed(size) => product = product.saturating_mul(*size),
                Dim::Symbol(_) => target.push(dim.clone()),
            }
        }
        if product == 0 {
            target.push(Dim::Fixed(0));
        }
        let mut rest = product;
        while rest > 1 {
            let mut divisors: Vec<usize> = (2..=rest.min(16))
                .filter(|d| rest.is_multiple_of(*d))
                .collect();
            divisors.push(rest);
            let divisor = *self.choices.pick(&divisors);
            target.push(Dim::Fixed(divisor));
            rest /= divisor;
        }
        for _ in 0..self.choices.below(3) {
            target.push(Dim::Fixed(1));
        }
        self.choices.shuffle(&mut target);
        // A `-1` is inferred from a non-zero count only.
        let hole = (product != 0 && !target.is_empty() && self.choices.chance(40))
            .then(|| self.choices.below(target.len()));
        let texts: Vec<String> = target
            .iter()
            .enumerate()
            .map(|(index, dim)| {
                if Some(index) == hole {
                    "-1".to_string()
                } else {
                    dim.to_string()
                }
            })
            .collect();
        let args = [
            tensor(0, "x", x),
            attr(1, "shape", format!("[{}]", texts.join(", "))),
        ];
        self.call_value("reshape", &args, Shape(target))
    }

    /// `concat` of `x` with up to two tensors that differ from it only on a
    /// literal axis.
    pub(super) fn concat(&mut self, x: &Value) -> Value {
        let rank = x.shape.rank();
        let literal: Vec<(usize, usize)> = (0..rank)
            .filter_map(|axis| match x.shape.0[axis] {
                Dim::Fixed(size) => Some((axis, size)),
                Dim::Symbol(_) => None,
            })
            .collect();
        if literal.is_empty() {
            return self.unary(x);
        }
        let (axis, size) = *self.choices.pick(&literal);
        let mut total = size;
        let mut items = vec![x.text.clone()];
        for _ in 0..self.choices.below(3) {
            if self.choices.chance(40) {
                total += size;
                items.push(x.text.clone());
            } else {
                let other = self.choices.below(4);
                let mut shape = x.shape.clone();
                shape.0[axis] = Dim::Fixed(other);
                total += other;
                items.push(self.operand(&shape).text);
            }
        }
        self.choices.shuffle(&mut items);
        let mut args = vec![attr(0, "tensors", format!("[{}]", items.join(", ")))];
        if axis != 0 || self.choices.chance(30) {
            let from_back = self.choices.chance(30);
            args.push(attr(1, "axis", axis_text(axis, rank, from_back)));
        }
        let mut shape = x.shape.clone();
        shape.0[axis] = Dim::Fixed(total);
        self.call_value("concat", &args, shape)
    }

    /// `slice(x, axis, start, end)` within a literal axis; bounds may count
    /// from the end.
    /// `pad`, by up to two elements before and after each literal axis (a
    /// symbolic axis takes `[0, 0]`), with zeros or max-pooling's lowest
    /// `f32`.
    pub(super) fn pad(&mut self, x: &Value) -> Value {
        let mut shape = x.shape.clone();
        let mut pairs = Vec::with_capacity(shape.rank());
        for dim in &mut shape.0 {
            let (before, after) = match dim {
                Dim::Fixed(size) => {
                    let (before, after) = (self.choices.below(3), self.choices.below(3));
                    *size += before + after;
                    (before, after)
                }
                Dim::Symbol(_) => (0, 0),
            };
            pairs.push(format!("[{before}, {after}]"));
        }
        let mut args = vec![
            tensor(0, "x", x),
            attr(1, "paddings", format!("[{}]", pairs.join(", "))),
        ];
        if self.choices.chance(50) {
            args.push(attr(2, "value", "-3.4028235e38".to_string()));
        }
        self.call_value("pad", &args, shape)
    }

    pub(super) fn slice(&mut self, x: &Value) -> Value {
        let rank = x.shape.rank();
        let literal: Vec<(usize, usize)> = (0..rank)
            .filter_map(|axis| match x.shape.0[axis] {
                Dim::Fixed(size) => Some((axis, size)),
                Dim::Symbol(_) => None,
            })
            .collect();
        if literal.is_empty() {
            return self.unary(x);
        }
        let (axis, size) = *self.choices.pick(&literal);
        let start = self.choices.below(size + 1);
        let end = self.choices.between(start, size);
        let mut bound = |at: usize| {
            if at < size && self.choices.chance(30) {
                format!("-{}", size - at)
            } else {
                at.to_string()
            }
        };
        let (start_text, end_text) = (bound(start), bound(end));
        let from_back = self.choices.chance(30);
        let args = [
            tensor(0, "x", x),
            attr(1, "axis", axis_text(axis, rank, from_back)),
            attr(2, "start", start_text),
            attr(3, "end", end_text),
        ];
        let mut shape = x.shape.clone();
        shape.0[axis] = Dim::Fixed(end - start);
        self.call_value("slice", &args, shape)
    }

    /// A size for a `broadcast_to` target: a literal, or a symbol that an
    /// input declares (the only symbols bound at run time).
    fn target_dim(&mut self) -> Dim {
        let mut symbols: Vec<&'static str> = self
            .declarations
            .iter()
            .filter(|decl| decl.kind == Kind::Input)
            .flat_map(|decl| decl.shape.0.iter())
            .filter_map(|dim| match dim {
                Dim::Symbol(symbol) => Some(*symbol),
                Dim::Fixed(_) => None,
            })
            .collect();
        symbols.dedup();
        match self.choices.below(3) {
            1 if !symbols.is_empty() => Dim::Symbol(symbols[self.choices.below(symbols.len())]),
            _ => Dim::Fixed(self.choices.between(1, 4)),
        }
    }

    /// `broadcast_to` a target that stretches `x`'s 1s and may add leading
    /// axes.
    pub(super) fn broadcast_to(&mut self, x: &Value) -> Value {
        let mut target: Vec<Dim> = Vec::new();
        for dim in &x.shape.0 {
            target.push(if *dim == Dim::Fixed(1) && self.choices.chance(50) {
                self.target_dim()
            } else {
                dim.clone()
            });
        }
        for _ in 0..self.choices.below(3) {
            let dim = self.target_dim();
            target.insert(0, dim);
        }
        let shape = Shape(target);
        let args = [tensor(0, "x", x), attr(1, "shape", shape.to_string())];
        self.call_value("broadcast_to", &args, shape)
    }

    /// `expand_dims(x, axis)`: a 1 inserted at `axis` of the result.
    pub(super) fn expand_dims(&mut self, x: &Value) -> Value {
        let rank = x.shape.rank() + 1;
        let axis = self.choices.below(rank);
        let from_back = self.choices.chance(30);
        let args = [
            tensor(0, "x", x),
            attr(1, "axis", axis_text(axis, rank, from_back)),
        ];
        let mut shape = x.shape.clone();
        shape.0.insert(axis, Dim::Fixed(1));
        self.call_value("expand_dims", &args, shape)
    }

    /// `squeeze(x)` drops every literal 1; `squeeze(x, axis = ..)` the named
    /// ones.
    pub(super) fn squeeze(&mut self, x: &Value) -> Value {
        let rank = x.shape.rank();
        let ones: Vec<usize> = (0..rank)
            .filter(|&axis| x.shape.0[axis] == Dim::Fixed(1))
            .collect();
        let mut args = vec![tensor(0, "x", x)];
        let removed = if ones.is_empty() || self.choices.below(2) == 0 {
            ones
        } else {
            let mut chosen = ones;
            self.choices.shuffle(&mut chosen);
            chosen.truncate(self.choices.between(1, chosen.len()));
            let text = if chosen.len() == 1 && self.choices.chance(50) {
                let from_back = self.choices.chance(30);
                axis_text(chosen[0], rank, from_back)
            } else {
                self.axes_text(&chosen, rank)
            };
            args.push(attr(1, "axis", text));
            chosen
        };
        let shape = Shape(
            (0..rank)
                .filter(|axis| !removed.contains(axis))
                .map(|axis| x.shape.0[axis].clone())
                .collect(),
        );
        self.call_value("squeeze", &args, shape)
    }
}
