//! Convolution epilogue fusion: `activation(conv2d(x, filter) + bias)` as
//! one fused convolution node.

use super::{absorbable, use_counts};
use crate::ir::{Graph, NodeId, Op};
use crate::ops::nn::Nn;

/// Fuses `conv2d(x, filter)` with a following bias add (one value per
/// output channel) and activation into one node, whose kernel applies both
/// as it finishes each block of output pixels, instead of two more passes
/// over the output. The activations are the unary functions the runtime's
/// epilogue has (`Unary::activation`), as for `fuse_dense`. The node
/// absorbed must be used only by its absorber. `#[no_std]` graphs are left
/// as they are: their slice kernels have no convolution.
pub fn fuse_conv(graph: &mut Graph) {
    if graph.no_std {
        return;
    }
    let mut uses = use_counts(graph);
    for index in 0..graph.nodes.len() {
        let node = &graph.nodes[index];
        let Some(op) = node.op.elementwise() else {
            continue;
        };
        let fused = |id: NodeId, make: &dyn Fn(&Nn) -> Option<Nn>| {
            let inner = graph.node(id);
            let op = inner.op.nn().and_then(make)?;
            absorbable(graph, &uses, id).then(|| (op, inner.operands.clone(), id))
        };
        let replacement = if op.is_add() {
            // conv2d(x, f) + b, on either side, b one value per channel.
            let (l, r) = (node.operands[0], node.operands[1]);
            let takes_bias = |id: NodeId| graph.node(id).op.nn().and_then(Nn::with_bias).is_some();
            let (conv, bias) = if takes_bias(l) { (l, r) } else { (r, l) };
            let channels = graph.shape(conv).0.last().cloned();
            let bias_fits =
                graph.shape(bias).rank() == 1 && graph.shape(bias).0.last().cloned() == channels;
            if bias_fits {
                fused(conv, &Nn::with_bias).map(|(op, mut operands, id)| {
                    operands.push(bias);
                    (op, operands, id)
                })
            } else {
                None
            }
        } else {
            match op.unary() {
                Some(unary) if unary.info().activation.is_some() => {
                    fused(node.operands[0], &|nn| nn.with_activation(unary))
                }
                Some(_) | None => None,
            }
        };
        if let Some((op, operands, absorbed)) = replacement {
            // The absorbed node is dead now; its operands are read by this one.
            uses[absorbed.0] = 0;
            let node = &mut graph.nodes[index];
            node.op = Op::Nn(op);
            node.operands = operands;
            node.called = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::elementwise::Unary;
    use crate::optimize::{eliminate_dead_nodes, test_graph as graph};

    fn fused(bias: bool, activation: Option<Unary>) -> Op {
        Op::Nn(Nn::FusedConv2d {
            strides: [1, 1],
            padding: crate::ir::Padding::Same,
            dilation: [1, 1],
            bias,
            activation,
        })
    }

    #[test]
    fn conv_fusion_takes_bias_and_activation() {
        let mut g = graph(quote::quote! {
            struct G {
                input x: [n, 6, 6, 2];
                var k: [3, 3, 2, 4];
                var b: [4];
                var wide: [6, 6, 4];
                output y = relu(conv2d(x, k, padding = same) + b);
                output left = b + conv2d(x, k, padding = same);
                output plain = tanh(conv2d(x, k * 2.0, padding = same));
                output broadcast = conv2d(x, k * 3.0, padding = same) + wide;
                output unsupported = exp(conv2d(x, k * 4.0, padding = same) + b);
            }
        });
        fuse_conv(&mut g);
        eliminate_dead_nodes(&mut g);
        g.validate().unwrap();
        let op = |i: usize| &g.node(g.outputs[i].node).op;
        assert_eq!(*op(0), fused(true, Some(Unary::Relu)));
        assert_eq!(g.node(g.outputs[0].node).operands.len(), 3);
        assert_eq!(*op(1), fused(true, None));
        assert_eq!(*op(2), fused(false, Some(Unary::Tanh)));
        // A bias of another shape stays a separate add.
        assert_eq!(op(3).word(), "add");
        // `exp` is no epilogue of the runtime: the bias alone is fused.
        let unsupported = g.node(g.outputs[4].node);
        assert_eq!(unsupported.op.word(), "exp");
        assert_eq!(g.node(unsupported.operands[0]).op, fused(true, None));
    }

    #[test]
    fn a_shared_or_output_convolution_is_not_absorbed() {
        let mut g = graph(quote::quote! {
            struct G {
                input x: [n, 4, 4, 1];
                var k: [2, 2, 1, 3];
                var b: [3];
                let c = conv2d(x, k, padding = same);
                output y = relu(c + b);
                output z = c * 2.0;
                output kept = conv2d(x, k * 2.0, padding = same);
                output after = relu(kept);
            }
        });
        fuse_conv(&mut g);
        g.validate().unwrap();
        let y = g.node(g.outputs[0].node);
        assert_eq!(y.op.word(), "relu");
        assert_eq!(g.node(y.operands[0]).op.word(), "add");
        assert_eq!(g.node(g.outputs[3].node).op.word(), "relu");
    }

    #[test]
    fn no_std_graphs_are_left_alone() {
        let mut g = graph(quote::quote! {
            struct G {
                input x: [1, 4, 4, 1];
                var k: [2, 2, 1, 3];
                var b: [3];
                output y = relu(conv2d(x, k, padding = same) + b);
            }
        });
        g.no_std = true;
        fuse_conv(&mut g);
        assert_eq!(g.node(g.outputs[0].node).op.word(), "relu");
    }
}
