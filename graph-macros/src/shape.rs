//! Shapes and the shape rule of every op.
//!
//! Plain data, no spans: [`infer`] answers with a [`ShapeError`] that
//! `check.rs` turns into a spanned compile error. A dimension is either a
//! literal size or a symbol; two distinct symbols are taken to be distinct
//! sizes, so `[n]` and `[m]` never broadcast together, and a symbol never
//! equals a literal.

use std::fmt;

use crate::diag::Code;
use crate::ir::DType;
use crate::ops::Op;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Dim {
    Fixed(usize),
    Symbol(String),
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(size) => write!(f, "{size}"),
            Dim::Symbol(name) => f.write_str(name),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Shape(pub Vec<Dim>);

impl Shape {
    #[cfg(test)]
    pub fn scalar() -> Self {
        Shape(Vec::new())
    }

    pub fn fixed(dims: &[usize]) -> Self {
        Shape(dims.iter().map(|&d| Dim::Fixed(d)).collect())
    }

    pub fn rank(&self) -> usize {
        self.0.len()
    }

    pub fn is_scalar(&self) -> bool {
        self.0.is_empty()
    }

    /// The literal sizes, if no dim is symbolic.
    pub fn as_fixed(&self) -> Option<Vec<usize>> {
        self.0
            .iter()
            .map(|dim| match dim {
                Dim::Fixed(size) => Some(*size),
                Dim::Symbol(_) => None,
            })
            .collect()
    }

    /// The symbols in order of first appearance.
    pub fn symbols(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|dim| match dim {
            Dim::Symbol(name) => Some(name.as_str()),
            Dim::Fixed(_) => None,
        })
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, dim) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{dim}")?;
        }
        f.write_str("]")
    }
}

/// Why an op cannot take operands of the given shapes.
#[derive(Debug, PartialEq, Eq)]
pub enum ShapeError {
    /// Two operands of a broadcasting op disagree at an axis (counted in the
    /// broadcast result).
    Broadcast {
        left: Shape,
        right: Shape,
        axis: usize,
    },
    /// An operand has the wrong element type.
    DType {
        operand: usize,
        expected: DType,
        actual: DType,
    },
    /// Any other op-specific rule, of the kind `code`, already phrased for
    /// the user (without the op's name, which `message` prefixes).
    Rule(Code, String),
    /// A rule about one attribute's value given these operands (`pad`'s
    /// `paddings` for its operand's rank): as `Rule`, but reported at the
    /// attribute as written, where the call has it.
    Attribute(&'static str, Code, String),
}

impl ShapeError {
    /// The attribute the error is about, if it is about one.
    pub fn attribute(&self) -> Option<&'static str> {
        match self {
            ShapeError::Attribute(name, _, _) => Some(name),
            ShapeError::Broadcast { .. } | ShapeError::DType { .. } | ShapeError::Rule(..) => None,
        }
    }

    /// The kind of error, for the code its message starts with.
    pub fn code(&self) -> Code {
        match self {
            ShapeError::Broadcast { .. } => Code::Broadcast,
            ShapeError::DType { .. } => Code::ElementType,
            ShapeError::Rule(code, _) | ShapeError::Attribute(_, code, _) => *code,
        }
    }

    /// The message shown to the user, naming the op as written (`symbol`)
    /// and its operands as the user wrote them (`operands`, each already
    /// quoted: `` `x` `` or ``the result of `matmul` ``).
    pub fn message(&self, symbol: &str, operands: &[String]) -> String {
        match self {
            ShapeError::Broadcast { left, right, axis } => {
                let rank = left.rank().max(right.rank());
                let dim_of = |shape: &Shape| {
                    let offset = rank - shape.rank();
                    axis.checked_sub(offset).map(|i| shape.0[i].to_string())
                };
                let detail = match (dim_of(left), dim_of(right)) {
                    (Some(l), Some(r)) if is_symbol(&l) && is_symbol(&r) => {
                        format!("the symbolic dims `{l}` and `{r}` are distinct sizes")
                    }
                    (Some(l), Some(r)) => {
                        format!("axis {axis} is {l} on the left and {r} on the right")
                    }
                    _ => String::new(),
                };
                format!(
                    "`{symbol}` cannot broadcast {left} with {right}: {detail}; sizes must be equal or one of them 1"
                )
            }
            ShapeError::DType {
                operand,
                expected,
                actual,
            } => {
                let which = operands
                    .get(*operand)
                    .map_or_else(|| format!("operand {}", operand + 1), Clone::clone);
                format!(
                    "`{symbol}` takes {} here, but {which} holds {}",
                    expected.name(),
                    actual.name()
                )
            }
            ShapeError::Rule(_, rule) | ShapeError::Attribute(_, _, rule) => {
                format!("`{symbol}` {rule}")
            }
        }
    }
}

fn is_symbol(dim: &str) -> bool {
    dim.chars().next().is_some_and(|c| !c.is_ascii_digit())
}

/// An operand as the shape rules see it.
pub type Typed<'a> = (&'a Shape, DType);

/// Builds a [`ShapeError::Rule`] of the kind `code`.
pub fn rule(code: Code, message: impl Into<String>) -> ShapeError {
    ShapeError::Rule(code, message.into())
}

/// Builds a [`ShapeError::Attribute`]: a rule of the kind `code` about the
/// attribute `name`.
pub fn attribute_rule(name: &'static str, code: Code, message: impl Into<String>) -> ShapeError {
    ShapeError::Attribute(name, code, message.into())
}

/// Checks that every operand has the element type `expected[i]`.
pub fn expect_dtypes(operands: &[Typed<'_>], expected: &[DType]) -> Result<(), ShapeError> {
    for (operand, ((_, actual), expected)) in operands.iter().zip(expected).enumerate() {
        if actual != expected {
            return Err(ShapeError::DType {
                operand,
                expected: *expected,
                actual: *actual,
            });
        }
    }
    Ok(())
}

/// Resolves an axis written in the graph (negative counts from the end)
/// against a rank.
pub fn axis(axis: i64, rank: usize) -> Result<usize, ShapeError> {
    let signed_rank = i64::try_from(rank).unwrap_or(i64::MAX);
    let resolved = if axis < 0 { axis + signed_rank } else { axis };
    usize::try_from(resolved)
        .ok()
        .filter(|&a| a < rank)
        .ok_or_else(|| {
            if rank == 0 {
                return rule(
                    Code::Axis,
                    format!(
                        "has no axis {axis} on a scalar: a scalar has no axes (was its operand \
                     reduced to one already?)"
                    ),
                );
            }
            rule(
                Code::Axis,
                format!(
                    "has no axis {axis} on an operand of rank {rank}: axes go from {} to {}",
                    -signed_rank,
                    signed_rank - 1
                ),
            )
        })
}

/// Resolves a list of axes, rejecting repeats; `None` means every axis.
pub fn axes(axes: Option<&[i64]>, rank: usize) -> Result<Vec<usize>, ShapeError> {
    let Some(axes) = axes else {
        return Ok((0..rank).collect());
    };
    let mut resolved = Vec::with_capacity(axes.len());
    for &a in axes {
        let a = axis(a, rank)?;
        if resolved.contains(&a) {
            return Err(rule(Code::Axis, format!("names axis {a} twice")));
        }
        resolved.push(a);
    }
    Ok(resolved)
}

/// The shape and element type an op produces from its operands: the rule
/// of its family. Leaves (inputs, variables, constants) carry their own
/// shapes and are not inferred here.
pub fn infer(op: &Op, operands: &[Typed<'_>]) -> Result<(Shape, DType), ShapeError> {
    match op.family() {
        Some(family) => family.infer(operands),
        None => Err(rule(Code::Internal, "is a leaf: its shape is declared")),
    }
}

/// The shape of a reduction of `shape` over `axes`.
pub fn reduced(shape: &Shape, axes: &[usize], keep_dims: bool) -> Shape {
    Shape(
        shape
            .0
            .iter()
            .enumerate()
            .filter_map(|(i, dim)| match (axes.contains(&i), keep_dims) {
                (false, _) => Some(dim.clone()),
                (true, true) => Some(Dim::Fixed(1)),
                (true, false) => None,
            })
            .collect(),
    )
}

/// Per-example softmax cross-entropy: `[n, c]` logits with `[n, c]` `f32`
/// probabilities or `[n]` `usize` class indices give `[n]`.
/// numpy broadcasting, with symbolic dims kept symbolic.
pub fn broadcast(left: &Shape, right: &Shape) -> Result<Shape, ShapeError> {
    let rank = left.rank().max(right.rank());
    let one = Dim::Fixed(1);
    let mut dims = Vec::with_capacity(rank);
    for axis in 0..rank {
        let from_end = rank - axis;
        let l = left
            .0
            .len()
            .checked_sub(from_end)
            .map_or(&one, |i| &left.0[i]);
        let r = right
            .0
            .len()
            .checked_sub(from_end)
            .map_or(&one, |i| &right.0[i]);
        let dim = if l == r || *r == one {
            l
        } else if *l == one {
            r
        } else {
            return Err(ShapeError::Broadcast {
                left: left.clone(),
                right: right.clone(),
                axis,
            });
        };
        dims.push(dim.clone());
    }
    Ok(Shape(dims))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A shape from text such as `"n, 3"`.
    pub fn shape(text: &str) -> Shape {
        Shape(
            text.split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(|d| match d.parse() {
                    Ok(size) => Dim::Fixed(size),
                    Err(_) => Dim::Symbol(d.to_string()),
                })
                .collect(),
        )
    }

    #[test]
    fn broadcasting_table() {
        let ok = [
            ("3, 1", "1, 4", "3, 4"),
            ("", "2, 3", "2, 3"),
            ("n, 128", "128", "n, 128"),
            ("n, 1", "1, m", "n, m"),
            ("n, 3", "n, 3", "n, 3"),
            ("5, 1, 3", "4, 1", "5, 4, 3"),
            ("0, 3", "1, 3", "0, 3"),
        ];
        for (l, r, out) in ok {
            assert_eq!(
                broadcast(&shape(l), &shape(r)),
                Ok(shape(out)),
                "{l} with {r}"
            );
            assert_eq!(
                broadcast(&shape(r), &shape(l)),
                Ok(shape(out)),
                "{r} with {l}"
            );
        }
        let bad = [
            ("2, 3", "3, 2", 0),
            ("n, 3", "m, 3", 0),
            ("n", "4", 0),
            ("2, n", "5", 1),
        ];
        for (l, r, axis) in bad {
            assert_eq!(
                broadcast(&shape(l), &shape(r)),
                Err(ShapeError::Broadcast {
                    left: shape(l),
                    right: shape(r),
                    axis
                })
            );
        }
    }

    #[test]
    fn messages_keep_symbols() {
        let err = broadcast(&shape("n, 3"), &shape("m, 3")).unwrap_err();
        assert_eq!(
            err.message("+", &[]),
            "`+` cannot broadcast [n, 3] with [m, 3]: the symbolic dims `n` and `m` are distinct sizes; sizes must be equal or one of them 1"
        );
    }
}
