//! Which weight matrices keep a packed copy beside them.
//!
//! The SIMD matrix kernel reads a weight matrix fastest in the panel layout
//! of `graph_runtime`'s `PackedWeights`: a product with a single row of `x`
//! streams each panel in order, and tiles of several rows find their strip
//! of `w` contiguous (no cache-set conflicts, no copy) and padded to whole
//! vectors (no masked loads). The generated struct keeps such a copy of a
//! variable `w` when some product `matmul(x, w)` (or a dense node built
//! from one) has a matrix `x`. Not for variables the graph updates, whose
//! copy would be repacked at every step, nor in `#[no_std]` graphs, whose
//! slice kernels read the weights in place.

use crate::ir::{Graph, NodeId, Op};
use crate::ops::At;

/// Per node, whether it is a variable that keeps a packed copy.
pub fn packed_weights(graph: &Graph) -> Vec<bool> {
    let mut packed = vec![false; graph.nodes.len()];
    if graph.no_std {
        return packed;
    }
    for index in 0..graph.nodes.len() {
        let at = At::new(graph, NodeId(index));
        let weights = at
            .node()
            .op
            .linalg()
            .and_then(|op| op.weights_of_matrix_product(at));
        if let Some(w) = weights {
            if graph.node(w).op == Op::Variable && graph.shape(w).rank() == 2 {
                packed[w.0] = true;
            }
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
    fn weights_of_products_with_a_matrix_operand() {
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
    fn not_for_vectors_constants_or_updated_weights() {
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
                output s = matmul(batch, k);
                const k: [4, 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]];
                d = d - g;
            }
        });
        // `b` meets a vector (a vector-matrix kernel); `d` is updated; `k`
        // is a constant. `a` and `c` are packed, whatever their batch.
        assert_eq!(names, ["a", "c"]);
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
