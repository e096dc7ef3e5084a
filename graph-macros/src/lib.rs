//! The `graph!` procedural macro of staticflow.
//!
//! Use it through the `staticflow` crate, which documents the language. This
//! crate is the compiler: [`graph!`] converts its input to `proc_macro2` and
//! hands it to `expand`, which runs the phases in order (see `expand.rs`).
#![forbid(unsafe_code)]

use proc_macro::TokenStream;

mod bake;
mod check;
mod diag;
mod dot;
mod emit;
mod expand;
mod introspect;
mod ir;
mod lower;
mod ops;
mod optimize;
mod parse;
mod plan;
#[cfg(test)]
mod proptests;
mod resolve;
mod shape;

/// Compiles a dataflow graph into a struct with one method per output.
///
/// See the `staticflow` crate for the language reference and examples.
#[proc_macro]
pub fn graph(input: TokenStream) -> TokenStream {
    expand::expand(input.into()).into()
}
