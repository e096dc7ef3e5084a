//! The floating-point operations of each node, by the conventions written
//! down in `graph-runtime/src/summary.rs` (a test keeps that table equal to
//! the families' [`crate::ops::cost_table`]), and the bytes each value holds.

use super::poly::Polynomial;
use crate::ir::{DType, Graph, NodeId};
use crate::ops::At;
use crate::shape::Shape;

/// The operations computing node `id` once takes: its family's count
/// (leaves compute nothing).
pub fn flops(graph: &Graph, id: NodeId) -> Polynomial {
    graph
        .node(id)
        .op
        .family()
        .map(|family| family.flops(At::new(graph, id)))
        .unwrap_or_default()
}

/// The element count of a shape.
pub fn elements(shape: &Shape) -> Polynomial {
    Polynomial::product(&shape.0)
}

/// The bytes node `id`'s value holds (`usize` counted as 8 bytes).
pub fn bytes(graph: &Graph, id: NodeId) -> Polynomial {
    let size = match graph.node(id).dtype {
        DType::F32 => 4,
        DType::Usize => 8,
        DType::Bool => 1,
    };
    elements(graph.shape(id)).scale(size)
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;
    use crate::expand::build_graph;

    /// The FLOPs of every node that is not a leaf, in node order.
    fn op_flops(tokens: proc_macro2::TokenStream) -> Vec<(String, String)> {
        let graph = build_graph(tokens).expect("test graph is valid");
        (0..graph.nodes.len())
            .map(NodeId)
            .filter(|&id| !graph.node(id).op.is_leaf())
            .map(|id| {
                (
                    graph.node(id).op.word().to_string(),
                    flops(&graph, id).to_string(),
                )
            })
            .collect()
    }

    fn expect(actual: &[(String, String)], expected: &[(&str, &str)]) {
        let actual: Vec<(&str, &str)> = actual
            .iter()
            .map(|(op, flops)| (op.as_str(), flops.as_str()))
            .collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn products_count_two_per_multiply_add() {
        let flops = op_flops(quote! {
            struct Products {
                input x: [n, 64];
                input batch: [b, n, 64];
                input v: [64];
                var w: [64, 32];
                output y = matmul(x, w);
                output z = matmul(v, w);
                output d = matmul(v, v);
                output t = matmul(x, transpose(x));
                output bb = matmul(batch, w);
            }
        });
        expect(
            &flops,
            &[
                ("matmul", "4096·n"),
                ("matmul", "4096"),
                ("matmul", "128"),
                ("transpose", "0"),
                ("matmul", "128·n·n"),
                ("matmul", "4096·b·n"),
            ],
        );
    }

    #[test]
    fn elementwise_ops_count_per_element() {
        let flops = op_flops(quote! {
            struct Elementwise {
                input x: [n, 10];
                input b: [10];
                output y = sigmoid(x + b);
                output z = gelu_tanh(x) * 2.0;
                output c = clip(x, 0.0, 1.0);
            }
        });
        expect(
            &flops,
            &[
                ("add", "10·n"),
                ("sigmoid", "40·n"),
                ("gelu_tanh", "90·n"),
                ("mul", "10·n"),
                ("clip", "20·n"),
            ],
        );
    }

    #[test]
    fn reductions_and_softmax_follow_their_formulas() {
        let flops = op_flops(quote! {
            struct Reductions {
                input x: [n, 10];
                input labels: [n] as usize;
                output s = sum(x, axis = 1);
                output m = mean(x);
                output p = softmax(x);
                output l = log_softmax(x, axis = 0);
                output e = logsumexp(x);
                output ce = softmax_cross_entropy(x, labels);
                output pe = softmax_cross_entropy(x, p);
                output err = mse(x, p);
            }
        });
        expect(
            &flops,
            &[
                ("sum", "10·n"),
                ("mean", "10·n + 1"),
                ("softmax", "50·n"),
                ("log_softmax", "50·n + 10"),
                ("logsumexp", "42·n"),
                ("softmax_cross_entropy", "42·n"),
                ("softmax_cross_entropy", "71·n"),
                ("mse", "30·n + 1"),
            ],
        );
    }

    #[test]
    fn fused_nodes_cost_what_their_parts_cost() {
        let tokens = quote! {
            struct Fusable {
                input x: [n, 8];
                var w: [8, 4];
                var b: [4];
                output y = relu(matmul(x, w) + b);
                output z = sigmoid(x * 2.0 + 1.0);
            }
        };
        let unfused = build_graph(tokens.clone()).expect("test graph is valid");
        let mut fused = build_graph(tokens).expect("test graph is valid");
        crate::optimize::run(&mut fused);
        let total = |graph: &Graph| {
            let mut sum = Polynomial::default();
            for id in (0..graph.nodes.len()).map(NodeId) {
                sum.add(&flops(graph, id));
            }
            sum.to_string()
        };
        // matmul 64·n, bias 4·n, relu 4·n; mul, add 8·n each, sigmoid 32·n.
        assert_eq!(total(&unfused), "120·n");
        assert_eq!(total(&fused), "120·n");
        assert!(
            fused.nodes.len() < unfused.nodes.len(),
            "the optimizer fused something"
        );
    }

    #[test]
    fn network_ops_count_their_windows() {
        let flops = op_flops(quote! {
            struct Network {
                input x: [n, 8, 8, 3];
                var k: [3, 3, 3, 16];
                var scale: [16];
                output c = conv2d(x, k, padding = same);
                output p = max_pool2d(x, window = 2);
                output a = avg_pool2d(x, window = 2);
                output bn = batch_norm(c, scale, scale, scale, scale);
                output ln = layer_norm(c, scale, scale);
                output r = reshape(x, [n, -1]);
            }
        });
        // conv: 2·3·3·3 = 54 per output element, 8·8·16 = 1024 elements per image.
        expect(
            &flops,
            &[
                ("conv2d", "55296·n"),
                ("max_pool2d", "192·n"),
                ("avg_pool2d", "240·n"),
                ("batch_norm", "4096·n + 32"),
                ("layer_norm", "7424·n"),
                ("reshape", "0"),
            ],
        );
    }
}
