//! The generator's model of values: shapes, element types, and the
//! broadcasting rule, written from the language reference.

use std::fmt;

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Dim {
    Fixed(usize),
    Symbol(&'static str),
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(size) => write!(f, "{size}"),
            Dim::Symbol(name) => f.write_str(name),
        }
    }
}

/// A shape in the model, printed as the macro prints its own: `[n, 3]`.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Shape(pub Vec<Dim>);

impl Shape {
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    pub fn fixed(&self) -> Option<Vec<usize>> {
        self.0
            .iter()
            .map(|dim| match dim {
                Dim::Fixed(size) => Some(*size),
                Dim::Symbol(_) => None,
            })
            .collect()
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "[{}]", dims.join(", "))
    }
}

/// The element type of a value, named as `DType::name` names it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Type {
    F32,
    Usize,
    Bool,
}

impl Type {
    pub fn name(self) -> &'static str {
        match self {
            Type::F32 => "f32",
            Type::Usize => "usize",
            Type::Bool => "bool",
        }
    }
}

/// How tightly an expression's text binds, to parenthesize only where Rust's
/// precedence needs it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Precedence {
    /// A name, a call, a non-negative number, an array, a parenthesis.
    Atom,
    /// `-x`, and negative numbers.
    Prefix,
    Multiplicative,
    Additive,
}

/// A generated expression: its text and the value the reference gives it.
#[derive(Clone, Debug)]
pub struct Value {
    pub text: String,
    pub shape: Shape,
    pub ty: Type,
    pub precedence: Precedence,
}

impl Value {
    pub fn atom(text: String, shape: Shape, ty: Type) -> Value {
        Value {
            text,
            shape,
            ty,
            precedence: Precedence::Atom,
        }
    }

    /// The text, in parentheses unless it binds at least as tightly as `at`.
    pub fn within(&self, at: Precedence) -> String {
        if self.precedence <= at {
            self.text.clone()
        } else {
            format!("({})", self.text)
        }
    }
}

/// numpy broadcasting as the reference states it.
pub fn broadcast(left: &Shape, right: &Shape) -> Option<Shape> {
    let rank = left.rank().max(right.rank());
    let one = Dim::Fixed(1);
    let at = |shape: &Shape, axis: usize| {
        let offset = rank - shape.rank();
        axis.checked_sub(offset)
            .map_or(one.clone(), |i| shape.0[i].clone())
    };
    let mut dims = Vec::with_capacity(rank);
    for axis in 0..rank {
        let (l, r) = (at(left, axis), at(right, axis));
        dims.push(if l == r || r == one {
            l
        } else if l == one {
            r
        } else {
            return None;
        });
    }
    Some(Shape(dims))
}
