//! staticflow: TensorFlow-style dataflow graphs written inline in Rust and
//! compiled at build time.
//!
//! A graph declares placeholders (inputs fed at each run), variables (state
//! owned by the generated struct), constants and operations. [`graph!`]
//! resolves its names, checks that it is acyclic and that every shape fits,
//! and emits a struct with one straight-line method per output: no node list,
//! no interpreter, no per-run sorting.
//!
//! ```
//! use staticflow::graph;
//!
//! graph! {
//!     /// The seed example: res = (a·b) / (a + b).
//!     struct Seed {
//!         const a = 7.0;
//!         const b = 8.0;
//!         output res = (a * b) / (a + b);
//!     }
//! }
//!
//! assert_eq!(Seed::new().res().unwrap(), 56.0 / 15.0);
//! ```
//!
//! The crate re-exports [`ndarray`], whose arrays and views are the graph's
//! inputs and outputs, the [`kernels`] generated code calls, and the [`Error`]
//! returned when data fed at run time disagrees with the graph.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[doc = include_str!("../docs/LANGUAGE.md")]
pub use graph_macros::graph;
/// The `rayon` crate behind the `parallel` feature, to size a pool with
/// `ThreadPoolBuilder` and run graphs in it with `ThreadPool::install`.
#[cfg(feature = "parallel")]
pub use graph_runtime::rayon;
#[cfg(feature = "std")]
pub use graph_runtime::summary::Summary;
pub use graph_runtime::{flat, scalar};
#[cfg(feature = "std")]
pub use graph_runtime::{
    kernels, summary, threads, weights, workspace, Dim, DimBindings, Error, Input,
};
/// The `ndarray` crate that generated code uses for its inputs and outputs.
#[cfg(feature = "std")]
pub use ndarray;

/// The paths generated code goes through. Not public API.
#[doc(hidden)]
pub use graph_macros::__kernel_table;

#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "std")]
    pub use ::graph_runtime::check::{check_variable, fetched};
    #[cfg(feature = "std")]
    pub use ::graph_runtime::summary;
    #[cfg(feature = "std")]
    pub use ::graph_runtime::weights;
    #[cfg(feature = "std")]
    pub use ::graph_runtime::workspace;
    pub use ::graph_runtime::{flat, scalar};
    #[cfg(feature = "std")]
    pub use ::graph_runtime::{kernels, Dim, DimBindings, Error, Input};
    #[cfg(feature = "std")]
    pub use ::ndarray;
}
