//! The module a graph's items live in.
//!
//! Every item of a graph `Name` (the struct, its `impl`, `NameOutputs`,
//! `NameOutputViews`, `NameWorkspace`, the private statics) is declared in
//! a hidden module of its own, and re-exported where the user wrote the
//! graph:
//!
//! ```text
//! #[doc(hidden)]
//! mod __staticflow_Name {
//!     use super::*;                       // the user's scope, for their attributes
//!     pub(super) struct Name { .. }
//!     impl Name { pub(super) fn new(..) .. }
//!     pub(super) struct NameOutputs { .. }
//!     ..
//! }
//! use __staticflow_Name::Name;
//! use __staticflow_Name::*;
//! ```
//!
//! So two graphs of one name in one module are two errors that name it
//! (the module defined twice, `Name` imported twice), not one per item:
//! each `impl` is of its own module's struct, so no method is defined
//! twice, and two glob imports of one module's items do not clash. `Name`
//! is imported by name, so an item of the user's called `Name` clashes
//! with it rather than silently hiding it.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::{parse_quote, Visibility};

/// The visibility, inside the graph's module, that gives an item the
/// visibility `vis` has where the graph is written: one module further out.
pub fn inner_visibility(vis: &Visibility) -> Visibility {
    match vis {
        Visibility::Public(_) => vis.clone(),
        Visibility::Inherited => parse_quote!(pub(super)),
        Visibility::Restricted(restricted) => {
            let path = &restricted.path;
            let mut segments = path.segments.iter();
            match segments
                .next()
                .map(|segment| segment.ident.to_string())
                .as_deref()
            {
                // `pub(self)`, `pub(in self::a)`: `self` is `super` inside.
                Some("self") => {
                    let rest = segments.map(|segment| &segment.ident);
                    parse_quote!(pub(in super #(::#rest)*))
                }
                Some("super") => parse_quote!(pub(in super::#path)),
                // `pub(crate)`, `pub(in crate::a)`: the same from anywhere.
                _ => vis.clone(),
            }
        }
    }
}

/// `items`, the expansion of graph `name` declared with visibility `vis`,
/// in the graph's module, and the imports that make them visible where the
/// graph is written. The module is named after the graph, spanned at its
/// name, so that rustc's error for a name used twice points at the second.
pub fn scoped(name: &Ident, vis: &Visibility, items: &TokenStream) -> TokenStream {
    let module = format_ident!("__staticflow_{}", name, span = name.span());
    // Spanned at the name, as the whole item: rustc's error for a module
    // defined twice points at the item.
    let module_item = quote_spanned! {name.span()=>
        #[doc(hidden)]
        #[allow(non_snake_case)]
        mod #module {
            #[allow(unused_imports, clippy::wildcard_imports)]
            use super::*;

            #items
        }
    };
    quote! {
        #module_item

        #[allow(unused_imports)]
        #vis use #module::#name;
        #[allow(unused_imports, clippy::wildcard_imports)]
        #vis use #module::*;
    }
}

#[cfg(test)]
mod tests {
    use quote::ToTokens;

    fn inner(vis: &str) -> String {
        let vis: syn::Visibility = syn::parse_str(vis).expect("a visibility");
        super::inner_visibility(&vis).to_token_stream().to_string()
    }

    #[test]
    fn visibility_moves_one_module_out() {
        assert_eq!(inner(""), "pub (super)");
        assert_eq!(inner("pub"), "pub");
        assert_eq!(inner("pub(crate)"), "pub (crate)");
        assert_eq!(inner("pub(self)"), "pub (in super)");
        assert_eq!(inner("pub(super)"), "pub (in super :: super)");
        assert_eq!(
            inner("pub(in super::super)"),
            "pub (in super :: super :: super)"
        );
        assert_eq!(inner("pub(in crate::a)"), "pub (in crate :: a)");
    }
}
