//! Common subexpression elimination: one node per distinct (op, operands),
//! and none for an identity (`dropout` outside training steps).

use std::collections::HashMap;

use super::remap_roots;
use crate::ir::{Graph, NodeId, Op};
use crate::ops::Family;

/// Merges nodes that apply the same op to the same operands, so a value
/// written twice is computed once, and points the users of an identity at
/// its operand.
pub fn eliminate_common_subexpressions(graph: &mut Graph) {
    let mut first: HashMap<(Op, Vec<NodeId>), NodeId> = HashMap::new();
    let mut replacement: Vec<NodeId> = (0..graph.nodes.len()).map(NodeId).collect();
    for index in 0..graph.nodes.len() {
        let node = &mut graph.nodes[index];
        for operand in &mut node.operands {
            *operand = replacement[operand.0];
        }
        // Inputs and variables are distinct even when declared alike.
        if matches!(node.op, Op::Input | Op::Variable) {
            continue;
        }
        let key = (node.op.clone(), node.operands.clone());
        if forwards_operand(graph, index) {
            let operand = graph.nodes[index].operands[0];
            replacement[index] = operand;
            if graph.nodes[operand.0].name.is_none() {
                graph.nodes[operand.0].name = graph.nodes[index].name.take();
            }
            continue;
        }
        match first.get(&key) {
            Some(&earlier) => {
                replacement[index] = earlier;
                // Keep the user's name if only the duplicate had one.
                if graph.nodes[earlier.0].name.is_none() {
                    graph.nodes[earlier.0].name = graph.nodes[index].name.take();
                }
            }
            None => {
                first.insert(key, NodeId(index));
            }
        }
    }
    remap_roots(graph, &replacement);
}

/// Whether node `index` is an identity (`dropout` outside a training step)
/// whose users can read its operand instead. An output stays a node of its
/// own over an input, variable or constant, which entry points do not
/// return.
fn forwards_operand(graph: &Graph, index: usize) -> bool {
    let node = &graph.nodes[index];
    let identity = node.op.family().is_some_and(Family::is_identity);
    identity
        && (!graph.nodes[node.operands[0].0].op.is_leaf()
            || !graph.outputs.iter().any(|output| output.node.0 == index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimize::{eliminate_dead_nodes, test_graph as graph};

    #[test]
    fn cse_merges_repeated_expressions_and_keeps_names() {
        let mut g = graph(quote::quote! {
            struct G {
                input x: [n, 3];
                let a = x * 2.0;
                let b = x * 2.0;
                output y = a + b;
            }
        });
        let before = g.nodes.len();
        eliminate_common_subexpressions(&mut g);
        eliminate_dead_nodes(&mut g);
        g.validate().unwrap();
        // x, 2.0, a, y remain: the second `2.0` and `b` were merged away.
        assert_eq!(before - g.nodes.len(), 2);
        let y = g.node(g.outputs[0].node);
        assert_eq!(y.operands[0], y.operands[1]);
        assert_eq!(g.node(y.operands[0]).name.as_ref().unwrap(), "a");
    }

    #[test]
    fn cse_keeps_distinct_constants_and_inputs() {
        let mut g = graph(quote::quote! {
            struct G {
                input x: [3];
                input z: [3];
                output y = x * 2.0 + z * 3.0 + x * 2.0;
            }
        });
        eliminate_common_subexpressions(&mut g);
        eliminate_dead_nodes(&mut g);
        g.validate().unwrap();
        // x, z, 2.0, 3.0, x*2, z*3, (+), (+): `x * 2.0` is computed once.
        assert_eq!(g.nodes.len(), 8);
    }
}
