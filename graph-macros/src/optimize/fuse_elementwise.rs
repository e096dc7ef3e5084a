//! Elementwise fusion: trees of elementwise ops as one `Fused` node.

use std::collections::VecDeque;

use super::{absorbable, use_counts};
use crate::ir::{Graph, NodeId, Op};
use crate::ops::elementwise::{Elementwise, Scalar, MAX_FUSED_OPERANDS};

/// Merges trees of elementwise ops into single `Fused` nodes: one pass over
/// memory computes each element of the tree's root, with no temporaries.
pub fn fuse_elementwise(graph: &mut Graph) {
    let uses = use_counts(graph);
    let mut absorbed = vec![false; graph.nodes.len()];
    // Roots first: a node absorbed into its user is not a root itself.
    for index in (0..graph.nodes.len()).rev() {
        if absorbed[index] || !is_elementwise(graph, NodeId(index)) {
            continue;
        }
        let inner = absorbable_tree(graph, &uses, NodeId(index));
        if inner.is_empty() {
            continue; // a lone op: its own kernel is as good
        }
        let mut leaves: Vec<NodeId> = Vec::new();
        let expression = scalar_tree(graph, &inner, NodeId(index), true, &mut leaves);
        for id in &inner {
            absorbed[id.0] = true;
        }
        let node = &mut graph.nodes[index];
        node.op = Op::Elementwise(Elementwise::Fused(expression));
        node.operands = leaves;
        node.called = None;
    }
}

fn is_elementwise(graph: &Graph, id: NodeId) -> bool {
    let node = graph.node(id);
    node.op.elementwise().is_some_and(Elementwise::is_fusable)
        && node.dtype == crate::ir::DType::F32
        && !graph.shape(id).is_scalar()
}

/// A scalar constant, which a fused expression holds as a literal rather
/// than as an operand.
fn is_literal(graph: &Graph, id: NodeId) -> bool {
    matches!(&graph.node(id).op, Op::Constant(tensor) if tensor.shape.is_empty())
}

/// The intermediates the tree rooted at `root` absorbs: single-use
/// elementwise operands, nearest first, each taken only while the tree's
/// distinct leaves stay within [`MAX_FUSED_OPERANDS`].
fn absorbable_tree(graph: &Graph, uses: &[usize], root: NodeId) -> Vec<NodeId> {
    let mut inner: Vec<NodeId> = Vec::new();
    // The tree's leaves so far, distinct, literals excluded.
    let mut leaves: Vec<NodeId> = Vec::new();
    let mut queue: VecDeque<NodeId> = VecDeque::new();
    let take_operands = |id: NodeId, leaves: &mut Vec<NodeId>, queue: &mut VecDeque<_>| {
        for &operand in &graph.node(id).operands {
            if !is_literal(graph, operand) && !leaves.contains(&operand) {
                leaves.push(operand);
            }
            queue.push_back(operand);
        }
    };
    take_operands(root, &mut leaves, &mut queue);
    while let Some(id) = queue.pop_front() {
        if inner.contains(&id)
            || !leaves.contains(&id)
            || !is_elementwise(graph, id)
            || !absorbable(graph, uses, id)
        {
            continue;
        }
        let new = graph
            .node(id)
            .operands
            .iter()
            .filter(|&&o| !is_literal(graph, o) && o != id && !leaves.contains(&o))
            .fold(Vec::new(), |mut new, &o| {
                if !new.contains(&o) {
                    new.push(o);
                }
                new
            });
        if leaves.len() - 1 + new.len() <= MAX_FUSED_OPERANDS {
            leaves.retain(|&l| l != id);
            inner.push(id);
            take_operands(id, &mut leaves, &mut queue);
        }
    }
    inner
}

/// The per-element expression of the tree rooted at `id`, descending into
/// the `inner` nodes; every other operand becomes a leaf, numbered in order
/// of first appearance.
fn scalar_tree(
    graph: &Graph,
    inner: &[NodeId],
    id: NodeId,
    root: bool,
    leaves: &mut Vec<NodeId>,
) -> Scalar {
    let node = graph.node(id);
    if let Op::Constant(tensor) = &node.op {
        if tensor.shape.is_empty() {
            return Scalar::Constant(crate::ir::Bits::new(tensor.values[0]));
        }
    }
    if !root && !inner.contains(&id) {
        let position = leaves.iter().position(|&l| l == id).unwrap_or_else(|| {
            leaves.push(id);
            leaves.len() - 1
        });
        return Scalar::Operand(position);
    }
    let operands: Vec<Scalar> = (0..node.operands.len())
        .map(|i| scalar_tree(graph, inner, node.operands[i], false, leaves))
        .collect();
    // Only fusable elementwise nodes are roots or absorbed.
    node.op
        .elementwise()
        .and_then(|op| op.as_scalar(operands))
        .unwrap_or(Scalar::Operand(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::elementwise::Binary;
    use crate::optimize::{eliminate_dead_nodes, test_graph as graph};

    #[test]
    fn elementwise_trees_fuse_into_one_node() {
        let mut g = graph(quote::quote! {
            struct G {
                input a: [n, 4];
                input b: [4];
                let shared = a * b;
                output y = relu(shared + 1.0) * shared;
                output z = exp(a) - 2.0 * sqrt(abs(a));
            }
        });
        fuse_elementwise(&mut g);
        eliminate_dead_nodes(&mut g);
        g.validate().unwrap();
        let y = g.node(g.outputs[0].node);
        // `shared` has two users: it stays a node and is a leaf of `y`.
        assert!(matches!(&y.op, Op::Elementwise(Elementwise::Fused(_))));
        assert_eq!(y.operands.len(), 1);
        let z = g.node(g.outputs[1].node);
        let Op::Elementwise(Elementwise::Fused(expression)) = &z.op else {
            panic!("z is fused: {:?}", z.op)
        };
        assert_eq!(z.operands.len(), 1, "`a` is read once as a leaf");
        assert!(matches!(expression, Scalar::Binary(Binary::Sub, _, _)));
        // a, b, shared, y, z.
        assert_eq!(g.nodes.len(), 5);
    }

    #[test]
    fn a_fused_node_takes_at_most_five_operands() {
        let mut g = graph(quote::quote! {
            struct G {
                input a: [4];
                input b: [4];
                input c: [4];
                input d: [4];
                input e: [4];
                input f: [4];
                input h: [4];
                output y = a + b + c + d + e + f + h;
            }
        });
        fuse_elementwise(&mut g);
        eliminate_dead_nodes(&mut g);
        g.validate().unwrap();
        assert!(matches!(
            g.node(g.outputs[0].node).op,
            Op::Elementwise(Elementwise::Fused(_))
        ));
        let fused: Vec<usize> = g
            .nodes
            .iter()
            .filter(|n| matches!(n.op, Op::Elementwise(Elementwise::Fused(_))))
            .map(|n| n.operands.len())
            .collect();
        // Seven leaves: two fused nodes, each within the limit.
        assert_eq!(fused.len(), 2, "{fused:?}");
        assert!(fused.iter().all(|&n| n <= MAX_FUSED_OPERANDS), "{fused:?}");
    }

    #[test]
    fn outputs_and_scalars_are_not_absorbed() {
        let mut g = graph(quote::quote! {
            struct G {
                input x: [3];
                input s: [];
                output doubled = x * 2.0;
                output y = exp(doubled) + 1.0;
                output t = s * s + 1.0;
            }
        });
        fuse_elementwise(&mut g);
        eliminate_dead_nodes(&mut g);
        g.validate().unwrap();
        // `doubled` is an output: it stays a node, a leaf of `y`'s tree.
        let doubled = g.outputs[0].node;
        assert_eq!(
            g.node(doubled).op,
            Op::Elementwise(Elementwise::Binary(Binary::Mul))
        );
        assert_eq!(g.node(g.outputs[1].node).operands, vec![doubled]);
        // Scalar arithmetic is left to the scalar path.
        assert_eq!(
            g.node(g.outputs[2].node).op,
            Op::Elementwise(Elementwise::Binary(Binary::Add))
        );
    }
}
