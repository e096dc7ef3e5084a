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
    /// A weight file has no tensor for a variable of the graph.
    MissingTensor {
        /// The variable's name in the graph.
        variable: &'static str,
        /// The tensor name looked up in the file: the variable's name, or
        /// the name a renaming map gave it.
        tensor: String,
        /// The file (or directory of `.npy` files) that was searched.
        file: String,
    },
    /// A weight file holds a tensor that no variable of the graph took,
    /// reported when loading is strict.
    UnexpectedTensor {
        /// The tensor's name in the file.
        tensor: String,
        /// The file (or directory of `.npy` files) holding it.
        file: String,
    },
    /// A tensor in a weight file has an element type other than the one a
    /// variable needs.
    TensorDType {
        /// The variable's name in the graph.
        variable: &'static str,
        /// The tensor's name in the file.
        tensor: String,
        /// The file holding the tensor.
        file: String,
        /// The element type the variable needs, as the file format spells
        /// it (`F32` in safetensors, `<f4` in `.npy`).
        expected: &'static str,
        /// The element type the file declares for the tensor.
        actual: String,
    },
    /// A tensor in a weight file does not have its variable's shape.
    TensorShape {
        /// The variable's name in the graph.
        variable: &'static str,
        /// The tensor's name in the file.
        tensor: String,
        /// The file holding the tensor.
        file: String,
        /// The variable's declared shape.
        expected: &'static [usize],
        /// The shape the file declares for the tensor.
        actual: Vec<usize>,
    },
    /// A weight file is malformed: truncated, with a header that does not
    /// parse, or with offsets and sizes that disagree.
    CorruptFile {
        /// The file, or a description of the bytes when they came from
        /// memory.
        file: String,
        /// What is wrong, naming the tensor concerned and the expected and
        /// actual values.
        reason: String,
    },
    /// Reading or writing a weight file failed.
    Io {
        /// The path that could not be read or written.
        path: String,
        /// `"read"` or `"write"`.
        action: &'static str,
        /// The operating system's message (kept as text so that `Error`
        /// stays `Clone` and `Eq`).
        message: String,
    },
    /// An `.npy` file read as an array (not as a graph's variable) has an
    /// element type that does not convert to the one asked for.
    FileDType {
        /// The file.
        file: String,
        /// The dtypes that convert, as `.npy` headers spell them.
        expected: &'static str,
        /// The dtype the file declares.
        actual: String,
    },
    /// A file read as indices (class labels) holds a value that is not
    /// one: negative, or too large for a `usize`.
    NotAnIndex {
        /// The file.
        file: String,
        /// The value.
        value: i128,
        /// Where it sits in the array (one entry per axis).
        position: Vec<usize>,
    },
    /// An entry point did not get an output it asked the graph's shared
    /// schedule for. The expansion rules this out (a graph computes every
    /// output it is asked for), so this is a bug of staticflow's, reported
    /// as an error rather than a panic: please report it.
    NotComputed {
        /// The output's name in the graph.
        output: &'static str,
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
            Error::MissingTensor {
                variable,
                tensor,
                file,
            } => write!(
                f,
                "`{file}` has no tensor `{tensor}`, which variable `{variable}` needs"
            ),
            Error::UnexpectedTensor { tensor, file } => write!(
                f,
                "`{file}` holds tensor `{tensor}`, which no variable of the graph takes; load non-strictly to ignore extra tensors"
            ),
            Error::TensorDType {
                variable,
                tensor,
                file,
                expected,
                actual,
            } => {
                write!(f, "tensor `{tensor}` in `{file}` has dtype {actual}, but variable `{variable}` needs {expected}")
            }
            Error::TensorShape {
                variable,
                tensor,
                file,
                expected,
                actual,
            } => {
                write!(f, "tensor `{tensor}` in `{file}` has shape {actual:?}, but variable `{variable}` has shape {expected:?}")
            }
            Error::CorruptFile { file, reason } => write!(f, "`{file}` is corrupt: {reason}"),
            Error::Io {
                path,
                action,
                message,
            } => write!(f, "cannot {action} `{path}`: {message}"),
            Error::FileDType {
                file,
                expected,
                actual,
            } => write!(f, "`{file}` has dtype '{actual}', but reading it needs {expected}"),
            Error::NotAnIndex {
                file,
                value,
                position,
            } => write!(
                f,
                "`{file}` holds {value} at position {position:?}, which is not an index: indices are whole numbers from 0 to {}",
                usize::MAX
            ),
            Error::NotComputed { output } => write!(
                f,
                "output `{output}` was asked for but not computed; this is a bug of staticflow, please report it"
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
