//! Which weight matrices keep a packed copy beside them.
//!
//! A matrix product with a single row of `x` streams its weights once, and
//! reads them fastest in the panel layout of `graph_runtime`'s
//! `PackedWeights`. The generated struct keeps such a copy of a variable
//! `w` when some product `matmul(x, w)` (or a dense node built from one)
//! can see a batch of one row: `x` is a matrix whose first dimension is
//! symbolic or 1. Not for variables the graph updates, whose copy would be
//! repacked at every step, nor in `#[no_std]` graphs, whose slice kernels
//! read the weights in place.

use crate::ir::{Graph, Op};
use crate::shape::Dim;

/// Per node, whether it is a variable that keeps a packed copy.
pub fn packed_weights(graph: &Graph) -> Vec<bool> {
    let mut packed = vec![false; graph.nodes.len()];
    if graph.no_std {
        return packed;
    }
    for node in &graph.nodes {
        if !matches!(node.op, Op::MatMul | Op::Dense { .. }) {
            continue;
        }
        let (x, w) = (node.operands[0], node.operands[1]);
        let rows = &graph.shape(x).0;
        let single_row = rows.len() == 2 && matches!(rows[0], Dim::Symbol(_) | Dim::Fixed(1));
        if single_row && graph.node(w).op == Op::Variable && graph.shape(w).rank() == 2 {
            packed[w.0] = true;
        }
    }
    for update in &graph.updates {
        packed[update.variable.0] = false;
    }
    packed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expand::build_graph;
    use quote::quote;

    /// The names of the packed variables of a graph, after optimization.
    fn packed(tokens: proc_macro2::TokenStream) -> Vec<String> {
        let mut graph = build_graph(tokens).unwrap_or_else(|e| panic!("valid graph: {e}"));
        crate::optimize::run(&mut graph);
        let packed = packed_weights(&graph);
        graph
            .variables
            .iter()
            .filter(|id| packed[id.0])
            .map(|&id| graph.node(id).name.as_ref().unwrap().to_string())
            .collect()
    }

    #[test]
    fn weights_of_products_that_may_see_one_row() {
        let names = packed(quote! {
            struct Mlp {
                input x: [n, 4];
                var w1: [4, 8];
                var b1: [8];
                var w2: [8, 2];
                var scale: [2];
                let h = relu(matmul(x, w1) + b1);
                output y = matmul(h, w2) * scale;
            }
        });
        // w1 through a dense node, w2 through a plain product; neither the
        // bias nor the vector `scale`.
        assert_eq!(names, ["w1", "w2"]);
    }

    #[test]
    fn not_for_batches_of_several_rows_vectors_or_updated_weights() {
        let names = packed(quote! {
            struct G {
                input batch: [8, 4];
                input one: [1, 4];
                input v: [4];
                var a: [4, 3];
                var b: [4, 3];
                var c: [4, 3];
                var d: [4, 3];
                input g: [4, 3];
                output p = matmul(batch, a);
                output q = matmul(v, b);
                output r = matmul(one, c) + matmul(one, d);
                d = d - g;
            }
        });
        // `a` only meets 8 rows, `b` a vector (a matrix-vector kernel);
        // `d` is updated; `c` meets one row.
        assert_eq!(names, ["c"]);
    }

    #[test]
    fn not_in_no_std_graphs() {
        let names = packed(quote! {
            #[no_std]
            struct Bare {
                input x: [1, 4];
                var w: [4, 2];
                output y = matmul(x, w);
            }
        });
        assert!(names.is_empty(), "{names:?}");
    }
}
