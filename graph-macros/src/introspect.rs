//! Associated items that let users see a generated graph: its Graphviz DOT
//! text, as written and after optimization, and its summary (parameters,
//! FLOPs, peak workspace). Takes the optimized graph and the DOT text of the
//! graph as written; returns items for the generated `impl Name { .. }`:
//!
//! ```text
//! pub const DOT: &'static str = identity("digraph \"Name\" { .. }");
//! pub const DOT_AS_WRITTEN: &'static str = identity("digraph \"Name\" { .. }");
//! pub const SUMMARY: ::staticflow::__private::summary::Summary = Summary { .. };
//! ```

use proc_macro2::TokenStream;
use quote::quote;

use crate::ir::Graph;

mod cost;
mod poly;
mod summary;

pub use poly::Polynomial;

/// Items placed inside the generated `impl Name { .. }`.
/// `as_written` is the DOT text of the graph before optimization passes.
pub fn items(graph: &Graph, as_written: &str, with_summary: bool) -> TokenStream {
    let vis = &graph.vis;
    let name = graph.name.to_string();
    let optimized = crate::dot::dot(graph);
    let summary_doc = format!(
        " What [`{name}`] costs: parameters, floating-point operations and peak \
         workspace per call, as polynomials in its symbolic dims."
    );
    // The summary's type lives in the std part of the runtime.
    let summary = with_summary.then(|| {
        let summary = summary::tokens(graph);
        quote! {
            #[doc = #summary_doc]
            ///
            /// Print it for a table of the nodes, or evaluate its costs for given sizes:
            /// `SUMMARY.run.flops.evaluate(&[("n", 32)])`. The conventions are those of
            /// `staticflow::summary`.
            #vis const SUMMARY: ::staticflow::__private::summary::Summary = #summary;
        }
    });
    let dot_doc = format!(
        " The graph of [`{name}`] as Graphviz DOT text, after the optimization passes: \
         what its methods compute."
    );
    let as_written_doc = format!(
        " The graph of [`{name}`] as Graphviz DOT text, as written: before common \
         subexpressions are merged and unused nodes dropped."
    );
    // Rustdoc prints the value of a constant that is a literal, kilobytes
    // of escaped text here, but not that of a call: each text goes through
    // `identity`.
    quote! {
        #[doc = #dot_doc]
        ///
        /// Inputs are drawn as `invhouse` nodes, variables as cylinders, constants as
        /// notes and ops as rounded boxes labelled with their attributes; edges carry
        /// the shape of the value they hold, symbolic dims kept. Each output is an extra
        /// node with a double outline, and each variable update a double cylinder with
        /// a dashed edge back to its variable. Render it with
        /// `dot -Tsvg graph.dot -o graph.svg`.
        #vis const DOT: &'static ::core::primitive::str = ::core::convert::identity(#optimized);

        #[doc = #as_written_doc]
        ///
        /// Drawn as [`Self::DOT`] is.
        #vis const DOT_AS_WRITTEN: &'static ::core::primitive::str =
            ::core::convert::identity(#as_written);

        #summary
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    #[test]
    fn every_graph_gets_both_dot_texts_and_a_summary() {
        let expanded = crate::expand::expand_checked(quote! {
            pub struct Twice {
                input x: [n];
                let unused = exp(x);
                output y = x * 2.0;
            }
        })
        .unwrap_or_else(|e| panic!("test graph expands: {e}"))
        .to_string();
        for item in [
            "pub const DOT : & 'static :: core :: primitive :: str = :: core :: convert :: identity (\"digraph \\\"Twice\\\" {",
            "pub const DOT_AS_WRITTEN : & 'static :: core :: primitive :: str = :: core :: convert :: identity (\"digraph \\\"Twice\\\" {",
            "pub const SUMMARY : :: staticflow :: __private :: summary :: Summary = :: staticflow :: __private :: summary :: Summary {",
        ] {
            assert!(expanded.contains(item), "{item} in {expanded}");
        }
        // The dead `let` is drawn in the graph as written only.
        assert_eq!(expanded.matches("unused\\\\nexp").count(), 1, "{expanded}");
    }
}
