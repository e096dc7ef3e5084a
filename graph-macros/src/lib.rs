//! The `graph!` procedural macro of staticflow.
//!
//! Use it through the `staticflow` crate, which documents the language. This
//! crate is the compiler: [`graph!`] converts its input to `proc_macro2` and
//! hands it to `expand`, which runs the phases in order (see `expand.rs`).
#![forbid(unsafe_code)]

use proc_macro::TokenStream;

mod bake;
mod budget;
mod check;
mod diag;
mod differentiate;
mod dot;
mod emit;
mod expand;
mod import;
mod introspect;
mod ir;
mod lint;
mod lower;
mod ops;
mod optimize;
mod parse;
mod plan;
#[cfg(test)]
mod proptests;
mod resolve;
mod shape;
mod train;

/// Compiles a dataflow graph into a struct with one method per output.
///
/// See the `staticflow` crate for the language reference and examples.
#[proc_macro]
pub fn graph(input: TokenStream) -> TokenStream {
    expand::expand(input.into()).into()
}

/// Every kernel path `graph!` may emit, as imports (a path missing from the
/// runtime does not compile), with `KERNEL_PATHS`, the paths as text, and
/// `known_activation`, an exhaustive match over the runtime's activations.
/// For staticflow's own tests (`tests/kernels.rs`); takes no input.
#[doc(hidden)]
#[proc_macro]
pub fn __kernel_table(input: TokenStream) -> TokenStream {
    if input.is_empty() {
        ops::kernels::table().into()
    } else {
        quote::quote! { ::core::compile_error!("`__kernel_table!` takes no input"); }.into()
    }
}
