//! Phase 5, optimization: IR-to-IR passes over a checked graph.
//!
//! Each pass is a `fn(&mut Graph)` that keeps the graph valid (topological
//! order, every shape known) and keeps the span and name of the node the user
//! wrote. `run` lists them in order.

use std::collections::HashMap;

use crate::ir::{Graph, NodeId, Op};

pub fn run(graph: &mut Graph) {
    eliminate_common_subexpressions(graph);
    eliminate_dead_nodes(graph);
}

/// Merges nodes that apply the same op to the same operands, so a value
/// written twice is computed once.
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

/// Removes nodes that no output or update needs (inputs and variables stay:
/// they are part of the generated signature and struct).
pub fn eliminate_dead_nodes(graph: &mut Graph) {
    let roots = graph
        .outputs
        .iter()
        .map(|o| o.node)
        .chain(graph.updates.iter().flat_map(|u| [u.variable, u.value]))
        .chain(graph.inputs.iter().copied())
        .chain(graph.variables.iter().copied())
        .collect::<Vec<_>>();
    let live = graph.reachable(roots);
    let mut replacement = Vec::with_capacity(graph.nodes.len());
    let mut kept = Vec::with_capacity(graph.nodes.len());
    for (index, node) in std::mem::take(&mut graph.nodes).into_iter().enumerate() {
        replacement.push(NodeId(kept.len()));
        if live[index] {
            kept.push(node);
        }
    }
    for node in &mut kept {
        for operand in &mut node.operands {
            *operand = replacement[operand.0];
        }
    }
    graph.nodes = kept;
    remap_roots(graph, &replacement);
}

/// Points every reference from outside the node list at its replacement.
fn remap_roots(graph: &mut Graph, replacement: &[NodeId]) {
    for id in graph.inputs.iter_mut().chain(graph.variables.iter_mut()) {
        *id = replacement[id.0];
    }
    for output in &mut graph.outputs {
        output.node = replacement[output.node.0];
    }
    for update in &mut graph.updates {
        update.variable = replacement[update.variable.0];
        update.value = replacement[update.value.0];
    }
    for annotation in &mut graph.annotations {
        annotation.node = replacement[annotation.node.0];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expand::build_graph;

    fn graph(tokens: proc_macro2::TokenStream) -> Graph {
        build_graph(tokens).unwrap_or_else(|e| panic!("test graph is valid: {e}"))
    }

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

    #[test]
    fn dead_nodes_go_inputs_stay() {
        let mut g = graph(quote::quote! {
            struct G {
                input x: [3];
                input unused: [3];
                let dead = x * x;
                output y = x + 1.0;
            }
        });
        eliminate_dead_nodes(&mut g);
        g.validate().unwrap();
        assert!(g
            .nodes
            .iter()
            .all(|n| n.name.as_ref().is_none_or(|name| name != "dead")));
        assert_eq!(g.inputs.len(), 2);
        assert_eq!(g.node(g.inputs[1]).name.as_ref().unwrap(), "unused");
    }
}
