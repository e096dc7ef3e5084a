//! Dead-node elimination: drops what no output or update needs, and
//! renumbers the rest.

use super::remap_roots;
use crate::ir::{Graph, NodeId};

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
        // A step returns its loss.
        .chain(graph.steps.iter().map(|step| step.loss))
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
    // An annotation on a dropped node has nothing left to annotate (and its
    // replacement index would dangle).
    graph
        .annotations
        .retain(|annotation| live[annotation.node.0]);
    remap_roots(graph, &replacement);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimize::test_graph as graph;

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

    #[test]
    fn an_update_keeps_its_cone() {
        let mut g = graph(quote::quote! {
            struct G {
                input g: [2];
                var w: [2];
                let step = g * 0.5;
                let unused = exp(g);
                w = w - step;
            }
        });
        eliminate_dead_nodes(&mut g);
        g.validate().unwrap();
        let names: Vec<String> = g
            .nodes
            .iter()
            .filter_map(|n| n.name.as_ref().map(ToString::to_string))
            .collect();
        assert!(names.iter().any(|n| n == "step"), "{names:?}");
        assert!(!names.iter().any(|n| n == "unused"), "{names:?}");
        // The update's value is still `w - step`, renumbered.
        let value = g.node(g.updates[0].value);
        assert_eq!(value.operands[0], g.updates[0].variable);
        assert_eq!(g.node(value.operands[1]).name.as_ref().unwrap(), "step");
    }
}
