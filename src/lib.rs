//! staticflow: TensorFlow-style dataflow graphs written inline in Rust and
//! compiled at build time. See [`graph!`] for the language.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub use graph_macros::graph;
pub use graph_runtime::{kernels, Dim, DimBindings, Error};
/// The `ndarray` crate that generated code uses for its inputs and outputs.
pub use ndarray;

/// The paths generated code goes through. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use ::graph_runtime::check::check_variable;
    pub use ::graph_runtime::{kernels, Dim, DimBindings, Error};
    pub use ::ndarray;
}
