//! Elementwise fusion: trees of elementwise ops as one `Fused` node.

use super::{absorbable, use_counts};
use crate::ir::{Graph, NodeId, Op, Scalar};

/// Most operands a fused node takes (the run-time helper zips at most this
/// many inputs with the output).
const MAX_FUSED_OPERANDS: usize = 5;

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
        let mut leaves: Vec<NodeId> = Vec::new();
        let mut inner: Vec<NodeId> = Vec::new();
        let expression = scalar_tree(graph, &uses, NodeId(index), true, &mut leaves, &mut inner);
        if inner.is_empty() {
            continue; // a lone op: its own kernel is as good
        }
        for id in &inner {
            absorbed[id.0] = true;
        }
        let node = &mut graph.nodes[index];
        node.op = Op::Fused(expression);
        node.operands = leaves;
        node.called = None;
    }
}

fn is_elementwise(graph: &Graph, id: NodeId) -> bool {
    let node = graph.node(id);
    matches!(node.op, Op::Unary(_) | Op::Binary(_))
        && node.dtype == crate::ir::DType::F32
        && !graph.shape(id).is_scalar()
}

/// The per-element expression of the tree rooted at `id`, absorbing operands
/// that are single-use elementwise intermediates while leaves stay few.
fn scalar_tree(
    graph: &Graph,
    uses: &[usize],
    id: NodeId,
    root: bool,
    leaves: &mut Vec<NodeId>,
    inner: &mut Vec<NodeId>,
) -> Scalar {
    let node = graph.node(id);
    if let Op::Constant(tensor) = &node.op {
        if tensor.shape.is_empty() {
            return Scalar::Constant(crate::ir::Bits::new(tensor.values[0]));
        }
    }
    let absorb = root
        || (is_elementwise(graph, id)
            && absorbable(graph, uses, id)
            && leaves.len() + node.operands.len() <= MAX_FUSED_OPERANDS);
    if !absorb {
        let position = leaves.iter().position(|&l| l == id).unwrap_or_else(|| {
            leaves.push(id);
            leaves.len() - 1
        });
        return Scalar::Operand(position);
    }
    if !root {
        inner.push(id);
    }
    let operand = |i: usize, leaves: &mut Vec<NodeId>, inner: &mut Vec<NodeId>| {
        Box::new(scalar_tree(
            graph,
            uses,
            node.operands[i],
            false,
            leaves,
            inner,
        ))
    };
    match &node.op {
        Op::Unary(unary) => Scalar::Unary(*unary, operand(0, leaves, inner)),
        Op::Binary(binary) => {
            let left = operand(0, leaves, inner);
            let right = operand(1, leaves, inner);
            Scalar::Binary(*binary, left, right)
        }
        // `is_elementwise` admits only unary and binary ops.
        _ => Scalar::Operand(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Binary;
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
        assert!(matches!(&y.op, Op::Fused(_)));
        assert_eq!(y.operands.len(), 1);
        let z = g.node(g.outputs[1].node);
        let Op::Fused(expression) = &z.op else {
            panic!("z is fused: {:?}", z.op)
        };
        assert_eq!(z.operands.len(), 1, "`a` is read once as a leaf");
        assert!(matches!(expression, Scalar::Binary(Binary::Sub, _, _)));
        // a, b, shared, y, z.
        assert_eq!(g.nodes.len(), 5);
    }
}
