//! Matmul epilogue fusion: `activation(matmul(x, w) + bias)` as one `Dense`
//! node.

use super::{absorbable, use_counts};
use crate::ir::{Graph, NodeId, Op};
use crate::ops::linalg::Linalg;

/// Fuses `matmul(x, w)` with a following bias add and activation into one
/// `Dense` node, whose kernel applies both as it finishes each output row.
/// The activations are the unary functions the runtime's dense epilogue
/// has (`Unary::activation`).
pub fn fuse_dense(graph: &mut Graph) {
    let mut uses = use_counts(graph);
    for index in 0..graph.nodes.len() {
        let node = &graph.nodes[index];
        // A matrix times a matrix; in `#[no_std]` graphs, whose dense kernel
        // takes a vector as a one-row matrix, also a vector times a matrix.
        let is_matmul_2d = |id: NodeId| {
            let n = graph.node(id);
            let x_ranks: &[usize] = if graph.no_std { &[1, 2] } else { &[2] };
            n.op == Op::Linalg(Linalg::MatMul)
                && x_ranks.contains(&graph.shape(n.operands[0]).rank())
                && graph.shape(n.operands[1]).rank() == 2
        };
        let Some(op) = node.op.elementwise() else {
            continue;
        };
        let replacement = if op.is_add() {
            // matmul(x, w) + b, with b one value per output column.
            let (l, r) = (node.operands[0], node.operands[1]);
            let (product, bias) = if is_matmul_2d(l) { (l, r) } else { (r, l) };
            let columns = graph.shape(product).0.last().cloned();
            let bias_fits =
                graph.shape(bias).0.len() == 1 && graph.shape(bias).0.last().cloned() == columns;
            (is_matmul_2d(product) && bias_fits && absorbable(graph, &uses, product)).then(|| {
                let mut operands = graph.node(product).operands.clone();
                operands.push(bias);
                let dense = Linalg::Dense {
                    bias: true,
                    activation: None,
                };
                (dense, operands, product)
            })
        } else {
            let activation = op.unary().filter(|unary| unary.info().activation.is_some());
            let inner = node.operands[0];
            let inner_node = graph.node(inner);
            match (activation, inner_node.op.linalg()) {
                (
                    Some(activation),
                    Some(Linalg::Dense {
                        bias,
                        activation: None,
                    }),
                ) if absorbable(graph, &uses, inner) => Some((
                    Linalg::Dense {
                        bias: *bias,
                        activation: Some(activation),
                    },
                    inner_node.operands.clone(),
                    inner,
                )),
                (Some(activation), Some(Linalg::MatMul))
                    if is_matmul_2d(inner) && absorbable(graph, &uses, inner) =>
                {
                    Some((
                        Linalg::Dense {
                            bias: false,
                            activation: Some(activation),
                        },
                        inner_node.operands.clone(),
                        inner,
                    ))
                }
                (None | Some(_), _) => None,
            }
        };
        if let Some((op, operands, absorbed)) = replacement {
            // The absorbed node is dead now; its operands are read by this one.
            uses[absorbed.0] = 0;
            let node = &mut graph.nodes[index];
            node.op = Op::Linalg(op);
            node.operands = operands;
            node.called = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::elementwise::Unary;
    use crate::optimize::{
        eliminate_common_subexpressions, eliminate_dead_nodes, test_graph as graph,
    };

    #[test]
    fn dense_fusion_takes_bias_and_activation() {
        let mut g = graph(quote::quote! {
            struct G {
                input x: [n, 3];
                var w: [3, 4];
                var b: [4];
                var w2: [4, 2];
                output y = relu(matmul(x, w) + b);
                output z = sigmoid(matmul(y, w2));
                output shared = tanh(matmul(y, w2 * 1.0 + 0.0));
                var w3: [2, 2];
                output kept = matmul(shared, w3) * 2.0;
                output also = matmul(shared, w3) + 1.0;
            }
        });
        eliminate_common_subexpressions(&mut g);
        fuse_dense(&mut g);
        eliminate_dead_nodes(&mut g);
        g.validate().unwrap();
        let y = g.node(g.outputs[0].node);
        assert_eq!(
            y.op,
            Op::Linalg(Linalg::Dense {
                bias: true,
                activation: Some(Unary::Relu)
            })
        );
        assert_eq!(y.operands.len(), 3);
        let z = g.node(g.outputs[1].node);
        assert_eq!(
            z.op,
            Op::Linalg(Linalg::Dense {
                bias: false,
                activation: Some(Unary::Sigmoid)
            })
        );
        // `matmul(shared, w2)` has two users after CSE, so neither absorbs it.
        let kept = g.node(g.outputs[3].node);
        assert_eq!(g.node(kept.operands[0]).op, Op::Linalg(Linalg::MatMul));
    }
}
