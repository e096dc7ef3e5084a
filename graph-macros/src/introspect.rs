//! Associated items that let users see a generated graph: its DOT text (as
//! written and after optimization) and its summary. (Stub: filled in by the
//! DOT export and summary work.)

use proc_macro2::TokenStream;

use crate::ir::Graph;

/// Items placed inside the generated `impl Name { .. }`.
/// `as_written` is the DOT text of the graph before optimization passes.
pub fn items(_graph: &Graph, _as_written: &str) -> TokenStream {
    TokenStream::new()
}
