//! The error type returned by generated code.

use core::fmt;

use crate::check::Dim;

/// What went wrong when data from outside met a compiled graph.
///
/// Every variant names the input or variable concerned, what the graph
/// expected and what it was given, so the message alone is enough to find the
/// mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A fed input does not have the shape the graph declares for it.
    InputShape {
        /// The input's name in the graph.
        input: &'static str,
        /// The declared shape, symbolic dims included.
        declared: &'static [Dim],
        /// The sizes the symbolic dims had taken from earlier inputs of the
        /// same call (and from this input's own earlier axes).
        bindings: Vec<(&'static str, usize)>,
        /// The shape that was fed.
        actual: Vec<usize>,
    },
    /// A value given for a variable does not have the variable's shape.
    VariableShape {
        /// The variable's name in the graph.
        variable: &'static str,
        /// The variable's declared shape.
        expected: &'static [usize],
        /// The shape of the value that was given.
        actual: Vec<usize>,
    },
    /// An integer tensor holds an index outside the range a kernel can use,
    /// such as a class label `>= classes` or an embedding id `>= vocabulary`.
    IndexOutOfRange {
        /// The name of the tensor holding the index.
        tensor: &'static str,
        /// The offending index.
        index: usize,
        /// Where the index sits in that tensor (one entry per axis).
        position: Vec<usize>,
        /// The exclusive upper bound: valid indices are `0..bound`.
        bound: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InputShape {
                input,
                declared,
                bindings,
                actual,
            } => {
                write!(f, "input `{input}` has shape {actual:?}, but the graph declares ")?;
                write_dims(f, declared)?;
                if !bindings.is_empty() {
                    f.write_str(" with ")?;
                    for (i, (symbol, size)) in bindings.iter().enumerate() {
                        if i > 0 {
                            f.write_str(", ")?;
                        }
                        write!(f, "{symbol} = {size}")?;
                    }
                }
                Ok(())
            }
            Error::VariableShape {
                variable,
                expected,
                actual,
            } => write!(
                f,
                "variable `{variable}` must have shape {expected:?}, but the value given has shape {actual:?}"
            ),
            Error::IndexOutOfRange {
                tensor,
                index,
                position,
                bound,
            } => write!(
                f,
                "tensor `{tensor}` holds index {index} at position {position:?}, but its indices must be less than {bound}"
            ),
        }
    }
}

impl std::error::Error for Error {}

fn write_dims(f: &mut fmt::Formatter<'_>, dims: &[Dim]) -> fmt::Result {
    f.write_str("[")?;
    for (i, dim) in dims.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        match dim {
            Dim::Fixed(size) => write!(f, "{size}")?,
            Dim::Symbol(name) => f.write_str(name)?,
        }
    }
    f.write_str("]")
}
