//! The shape rules of the movement ops: which permutations, reshapes,
//! concatenations, slices, paddings and squeezes are valid, and the shapes
//! they give.

use super::Movement;
use crate::diag::Code;
use crate::ir::DimSpec;
use crate::shape::{attribute_rule, axes, axis, broadcast, rule, Dim, Shape, ShapeError};

pub(super) fn infer(op: &Movement, shapes: &[&Shape]) -> Result<Shape, ShapeError> {
    let x = shapes[0];
    match op {
        Movement::Transpose(order) => transpose(x, order.as_deref()),
        Movement::Reshape(target) => reshape(x, target),
        Movement::Concat { axis: a } => concat(shapes, *a),
        Movement::Slice {
            axis: a,
            start,
            end,
        } => slice(x, *a, *start, *end),
        Movement::Pad { paddings, .. } => pad(x, paddings),
        Movement::BroadcastTo(target) => {
            let target = literal_target(target)?;
            match broadcast(x, &target) {
                Ok(result) if result == target => Ok(target),
                _ => Err(rule(
                    Code::Broadcast,
                    format!("cannot broadcast {x} to {target}"),
                )),
            }
        }
        Movement::ExpandDims { axis: a } => {
            let at = axis(*a, x.rank() + 1)?;
            let mut dims = x.0.clone();
            dims.insert(at, Dim::Fixed(1));
            Ok(Shape(dims))
        }
        Movement::Squeeze(which) => squeeze(x, which.as_deref()),
    }
}

fn transpose(x: &Shape, order: Option<&[i64]>) -> Result<Shape, ShapeError> {
    let Some(order) = order else {
        return Ok(Shape(x.0.iter().rev().cloned().collect()));
    };
    if order.len() != x.rank() {
        return Err(rule(
            Code::Axis,
            format!(
                "needs one axis per dim of {x}, but was given {} axes",
                order.len()
            ),
        ));
    }
    let order = axes(Some(order), x.rank())?;
    Ok(Shape(order.iter().map(|&a| x.0[a].clone()).collect()))
}

/// The number of elements of a shape as `factor · symbols…`.
#[derive(PartialEq, Eq, Debug)]
struct Count {
    factor: usize,
    symbols: Vec<String>,
}

impl Count {
    fn of<'a>(dims: impl IntoIterator<Item = &'a Dim>) -> Result<Count, ShapeError> {
        let mut count = Count {
            factor: 1,
            symbols: Vec::new(),
        };
        for dim in dims {
            match dim {
                Dim::Fixed(size) => {
                    count.factor = count.factor.checked_mul(*size).ok_or_else(|| {
                        rule(
                            Code::TooLarge,
                            "works on a shape with more elements than a `usize` counts",
                        )
                    })?;
                }
                Dim::Symbol(symbol) => count.symbols.push(symbol.clone()),
            }
        }
        count.symbols.sort();
        Ok(count)
    }

    fn describe(&self) -> String {
        let mut parts: Vec<String> = self.symbols.clone();
        if self.factor != 1 || parts.is_empty() {
            parts.insert(0, self.factor.to_string());
        }
        parts.join("·")
    }
}

/// `reshape` keeps the element count, which must be provably equal: the same
/// literal product and the same symbols. One `-1` takes what is left, if that
/// is a single size or a single symbol.
fn reshape(x: &Shape, target: &[DimSpec]) -> Result<Shape, ShapeError> {
    let known: Vec<Dim> = target
        .iter()
        .filter_map(|d| match d {
            DimSpec::Fixed(size) => Some(Dim::Fixed(*size)),
            DimSpec::Symbol(s) => Some(Dim::Symbol(s.clone())),
            DimSpec::Infer => None,
        })
        .collect();
    let have = Count::of(&x.0)?;
    let want = Count::of(&known)?;
    let written = written(target);
    if known.len() == target.len() {
        if have != want {
            return Err(rule(
                Code::Reshape,
                format!(
                    "cannot reshape {x} ({} elements) to {written} ({} elements)",
                    have.describe(),
                    want.describe()
                ),
            ));
        }
        return Ok(Shape(known));
    }
    // Divide what we have by what the target names; the rest is the `-1`.
    let mut rest = have.symbols.clone();
    for symbol in &want.symbols {
        match rest.iter().position(|s| s == symbol) {
            Some(i) => {
                rest.remove(i);
            }
            None => {
                return Err(rule(
                    Code::Reshape,
                    format!(
                        "cannot reshape {x} to {written}: `{symbol}` is not a dim of the input"
                    ),
                ))
            }
        }
    }
    let inferred = match (want.factor, rest.as_slice()) {
        (0, _) => None,
        (factor, []) if have.factor % factor == 0 => Some(Dim::Fixed(have.factor / factor)),
        (factor, [symbol]) if have.factor == factor => Some(Dim::Symbol(symbol.clone())),
        _ => None,
    };
    let Some(inferred) = inferred else {
        return Err(rule(Code::Reshape, format!(
            "cannot reshape {x} ({} elements) to {written}: the `-1` would have to be {} / {}, which is not one size",
            have.describe(),
            have.describe(),
            want.describe()
        )));
    };
    Ok(Shape(
        target
            .iter()
            .map(|d| match d {
                DimSpec::Fixed(size) => Dim::Fixed(*size),
                DimSpec::Symbol(s) => Dim::Symbol(s.clone()),
                DimSpec::Infer => inferred.clone(),
            })
            .collect(),
    ))
}

fn written(target: &[DimSpec]) -> String {
    let dims: Vec<String> = target
        .iter()
        .map(|d| match d {
            DimSpec::Fixed(size) => size.to_string(),
            DimSpec::Symbol(s) => s.clone(),
            DimSpec::Infer => "-1".to_string(),
        })
        .collect();
    format!("[{}]", dims.join(", "))
}

fn literal_target(target: &[DimSpec]) -> Result<Shape, ShapeError> {
    target
        .iter()
        .map(|d| match d {
            DimSpec::Fixed(size) => Ok(Dim::Fixed(*size)),
            DimSpec::Symbol(s) => Ok(Dim::Symbol(s.clone())),
            DimSpec::Infer => Err(rule(
                Code::Reshape,
                "cannot infer a `-1` dim: write every size of the target",
            )),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Shape)
}

fn concat(shapes: &[&Shape], a: i64) -> Result<Shape, ShapeError> {
    let first = shapes[0];
    let at = axis(a, first.rank())?;
    let mut total = 0usize;
    for shape in shapes {
        let same_elsewhere = shape.rank() == first.rank()
            && shape
                .0
                .iter()
                .zip(&first.0)
                .enumerate()
                .all(|(i, (d, f))| i == at || d == f);
        if !same_elsewhere {
            return Err(rule(Code::OperandShape, format!(
                "joins along axis {at}, so every other dim must agree, but {first} and {shape} differ"
            )));
        }
        match &shape.0[at] {
            Dim::Fixed(size) => total = total.saturating_add(*size),
            Dim::Symbol(symbol) => {
                return Err(rule(Code::SymbolicDim, format!(
                    "cannot join along the symbolic dim `{symbol}` of {shape}: the result's size would not be one dim"
                )))
            }
        }
    }
    let mut dims = first.0.clone();
    dims[at] = Dim::Fixed(total);
    Ok(Shape(dims))
}

fn slice(x: &Shape, a: i64, start: i64, end: i64) -> Result<Shape, ShapeError> {
    let at = axis(a, x.rank())?;
    let Dim::Fixed(size) = x.0[at] else {
        return Err(rule(
            Code::SymbolicDim,
            format!(
                "needs a literal size on axis {at} to check its bounds, but {x} has `{}` there",
                x.0[at]
            ),
        ));
    };
    let signed = i64::try_from(size).unwrap_or(i64::MAX);
    let resolve = |bound: i64| if bound < 0 { bound + signed } else { bound };
    let (from, to) = (resolve(start), resolve(end));
    if from < 0 || to > signed || from > to {
        return Err(rule(
            Code::OperandShape,
            format!("bounds {start}..{end} do not fit axis {at} of {x}, which has {size} elements"),
        ));
    }
    let mut dims = x.0.clone();
    dims[at] = Dim::Fixed(usize::try_from(to - from).unwrap_or(0));
    Ok(Shape(dims))
}

/// `pad` takes one `[before, after]` pair per axis, and grows each axis by
/// its pair's sum; a symbolic axis must keep its size (`[0, 0]`), since
/// `n + 2` is not a dim. Both errors are about the attribute, and point at it.
fn pad(x: &Shape, paddings: &[[usize; 2]]) -> Result<Shape, ShapeError> {
    if paddings.len() != x.rank() {
        let pairs = |count: usize| {
            if count == 1 {
                "1 pair".to_string()
            } else {
                format!("{count} pairs")
            }
        };
        return Err(attribute_rule(
            "paddings",
            Code::Axis,
            format!(
                "needs one `[before, after]` pair in `paddings` per axis of {x}, so {}, but was given {}",
                pairs(x.rank()),
                pairs(paddings.len())
            ),
        ));
    }
    let mut dims = Vec::with_capacity(x.rank());
    for (at, (dim, &[before, after])) in x.0.iter().zip(paddings).enumerate() {
        match dim {
            Dim::Fixed(size) => {
                let padded = size
                    .checked_add(before)
                    .and_then(|s| s.checked_add(after))
                    .ok_or_else(|| {
                        rule(
                            Code::TooLarge,
                            format!("pads axis {at} of {x} beyond what a `usize` counts"),
                        )
                    })?;
                dims.push(Dim::Fixed(padded));
            }
            Dim::Symbol(symbol) if before == 0 && after == 0 => {
                dims.push(Dim::Symbol(symbol.clone()));
            }
            Dim::Symbol(symbol) => {
                return Err(attribute_rule(
                    "paddings",
                    Code::SymbolicDim,
                    format!(
                        "cannot pad axis {at} of {x} by [{before}, {after}]: its size is the symbolic dim `{symbol}`, and `{symbol} + {}` would not be one dim; give it `[0, 0]`",
                        before.saturating_add(after)
                    ),
                ));
            }
        }
    }
    Ok(Shape(dims))
}

fn squeeze(x: &Shape, which: Option<&[i64]>) -> Result<Shape, ShapeError> {
    let one = Dim::Fixed(1);
    let remove: Vec<usize> = match which {
        None => (0..x.rank()).filter(|&i| x.0[i] == one).collect(),
        Some(list) => {
            let list = axes(Some(list), x.rank())?;
            if let Some(&bad) = list.iter().find(|&&i| x.0[i] != one) {
                return Err(rule(
                    Code::OperandShape,
                    format!(
                        "can only remove axes of size 1, but axis {bad} of {x} is {}",
                        x.0[bad]
                    ),
                ));
            }
            list
        }
    };
    Ok(Shape(
        x.0.iter()
            .enumerate()
            .filter(|(i, _)| !remove.contains(i))
            .map(|(_, d)| d.clone())
            .collect(),
    ))
}
