//! Shapes and the shape rule of every op.
//!
//! Plain data, no spans: [`infer`] answers with a [`ShapeError`] that
//! `check.rs` turns into a spanned compile error. A dimension is either a
//! literal size or a symbol; two distinct symbols are taken to be distinct
//! sizes, so `[n]` and `[m]` never broadcast together, and a symbol never
//! equals a literal.

use std::fmt;

use crate::ir::Op;

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
    /// The contracted dimensions of a matrix product differ.
    MatMulInner { left: Shape, right: Shape },
    /// An operand of a matrix product is not 1-D or 2-D.
    MatMulRank { operand: Side, shape: Shape },
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Side {
    Left,
    Right,
}

impl ShapeError {
    /// The message shown to the user, naming the op as written (`symbol`).
    pub fn message(&self, symbol: &str) -> String {
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
            ShapeError::MatMulInner { left, right } => {
                format!("`{symbol}` inner dimensions differ: left is {left}, right is {right}")
            }
            ShapeError::MatMulRank { operand, shape } => format!(
                "`{symbol}` takes 1-D or 2-D operands, but its {} operand is {shape}{}",
                match operand {
                    Side::Left => "left",
                    Side::Right => "right",
                },
                if shape.is_scalar() {
                    " (a scalar); use `*` to scale"
                } else {
                    ""
                }
            ),
        }
    }
}

fn is_symbol(dim: &str) -> bool {
    dim.chars().next().is_some_and(|c| !c.is_ascii_digit())
}

/// The shape an op produces from operands of the given shapes.
///
/// Leaves (inputs, variables, constants) carry their own shapes and are not
/// inferred here.
pub fn infer(op: &Op, operands: &[&Shape]) -> Result<Shape, ShapeError> {
    match op {
        Op::Input | Op::Variable | Op::Constant(_) => {
            unreachable!("leaf shapes are declared, never inferred")
        }
        Op::Add | Op::Sub | Op::Mul | Op::Div => broadcast(operands[0], operands[1]),
        Op::Neg => Ok(operands[0].clone()),
        Op::MatMul => matmul(operands[0], operands[1]),
    }
}

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

/// numpy's `matmul` for 1-D and 2-D operands: a vector on the left is a row,
/// on the right a column, and that axis is dropped from the result.
pub fn matmul(left: &Shape, right: &Shape) -> Result<Shape, ShapeError> {
    for (operand, shape) in [(Side::Left, left), (Side::Right, right)] {
        if !(1..=2).contains(&shape.rank()) {
            return Err(ShapeError::MatMulRank {
                operand,
                shape: shape.clone(),
            });
        }
    }
    let inner_left = &left.0[left.rank() - 1];
    let inner_right = &right.0[0];
    if inner_left != inner_right {
        return Err(ShapeError::MatMulInner {
            left: left.clone(),
            right: right.clone(),
        });
    }
    let mut dims = Vec::new();
    if left.rank() == 2 {
        dims.push(left.0[0].clone());
    }
    if right.rank() == 2 {
        dims.push(right.0[1].clone());
    }
    Ok(Shape(dims))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(text: &str) -> Shape {
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
    fn matmul_table() {
        let ok = [
            ("n, 784", "784, 128", "n, 128"),
            ("3", "3, 4", "4"),
            ("2, 3", "3", "2"),
            ("k", "k", ""),
        ];
        for (l, r, out) in ok {
            assert_eq!(matmul(&shape(l), &shape(r)), Ok(shape(out)));
        }
        assert!(matches!(
            matmul(&shape("n, 784"), &shape("128, 10")),
            Err(ShapeError::MatMulInner { .. })
        ));
        assert!(matches!(
            matmul(&shape(""), &shape("3")),
            Err(ShapeError::MatMulRank {
                operand: Side::Left,
                ..
            })
        ));
        assert!(matches!(
            matmul(&shape("2, 3"), &shape("1, 3, 4")),
            Err(ShapeError::MatMulRank {
                operand: Side::Right,
                ..
            })
        ));
    }

    #[test]
    fn messages_keep_symbols() {
        let err = matmul(&shape("n, 784"), &shape("128, 10")).unwrap_err();
        assert_eq!(
            err.message("matmul"),
            "`matmul` inner dimensions differ: left is [n, 784], right is [128, 10]"
        );
        let err = broadcast(&shape("n, 3"), &shape("m, 3")).unwrap_err();
        assert_eq!(
            err.message("+"),
            "`+` cannot broadcast [n, 3] with [m, 3]: the symbolic dims `n` and `m` are distinct sizes; sizes must be equal or one of them 1"
        );
    }
}
