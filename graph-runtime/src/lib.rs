//! Kernels and run-time checks behind `staticflow`'s generated code.
//!
//! This crate knows nothing about graphs: it is a small library of tensor
//! kernels on [`ndarray`], plus the typed [`Error`] that generated code returns
//! when a caller feeds data that disagrees with the graph's declared shapes.
//! Code emitted by `graph!` calls it through `staticflow::__private`, so users
//! rarely name it directly; it is useful on its own for testing kernels.
//!
//! ```
//! use graph_runtime::kernels::elementwise;
//! use ndarray::array;
//!
//! let column = array![[1.0_f32], [2.0], [3.0]];
//! let row = array![10.0_f32, 20.0];
//! let sum: ndarray::Array2<f32> = elementwise::add(column.view(), row.view());
//! assert_eq!(sum, array![[11.0, 21.0], [12.0, 22.0], [13.0, 23.0]]);
//! ```
//!
//! Without the default `std` feature the crate is `#![no_std]` and uses no
//! allocator: it keeps [`flat`], kernels on plain slices with every shape
//! given by the caller, and [`scalar`], the elementwise formulas. Those are
//! what `#[no_std]` graphs compile to.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]
// `unsafe` lives in three modules, which allow it explicitly: `kernels::simd`
// (AVX2+FMA matrix kernels), `flat::baked` (baked weights viewed as
// `f32`s) and `threads::helpers` (a job on the caller's stack shared with
// helper threads); every block there has a `SAFETY:` comment.
#![deny(unsafe_code)]
// Kernels take ndarray views by value, as ndarray's own API does: a view is a
// cheap handle, and by-value views accept both `x.view()` and `x.t()`.
#![allow(clippy::needless_pass_by_value)]

#[cfg(feature = "std")]
pub mod check;
#[cfg(feature = "std")]
mod error;
pub mod flat;
#[cfg(feature = "std")]
mod input;
#[cfg(feature = "std")]
pub mod kernels;
pub mod scalar;
#[cfg(feature = "std")]
pub mod summary;
#[cfg(feature = "std")]
pub mod threads;
#[cfg(feature = "std")]
pub mod weights;
#[cfg(feature = "std")]
pub mod workspace;

#[cfg(feature = "std")]
pub use check::{Dim, DimBindings};
#[cfg(feature = "std")]
pub use error::Error;
#[cfg(feature = "std")]
pub use input::Input;
/// The `rayon` crate whose pool the `parallel` feature's kernels use, for
/// building a pool of a chosen size (`ThreadPool::install`).
#[cfg(feature = "parallel")]
pub use rayon;
