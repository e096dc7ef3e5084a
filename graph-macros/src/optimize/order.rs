//! Memory order: each variable's new value is computed as early as the graph
//! allows, right after its gradient is final and the variable's current
//! value has been read for the last time, instead of after the whole
//! backward pass.
//!
//! The node order is the schedule (`plan`), and `differentiate` appends
//! every update after every gradient, so a training step would hold the
//! gradients of all variables at once: the one of the last layer, finished
//! first, waits for the first layer's. Moved up, an update computed over its
//! variable (`w -= lr·g`, planned in place) frees its gradient's slot as
//! soon as it is made, and the step's peak workspace holds one layer's
//! gradient where it held all of them, as the Tiny Training Engine of
//! `MCUNetV3` reorders operators to do.
//!
//! Only the position of update values changes, and only to a position that
//! keeps the order topological: after the value's operands, and after every
//! other node reading the variable it replaces (which must see the current
//! value: the forward pass, the backward pass through it, the step's
//! outputs). What is computed, and so every result, is the same.

use super::remap_roots;
use crate::ir::{Graph, NodeId};

/// Moves each update's value up to the first position after its operands
/// and after the other readers of its variable.
pub fn order_updates_early(graph: &mut Graph) {
    let count = graph.nodes.len();
    let mut hoisted = vec![false; count];
    // The variable each moved value replaces (one per value: a value that
    // several updates take, or that is an output, stays where it is).
    let mut replaces: Vec<Option<NodeId>> = vec![None; count];
    for update in &graph.updates {
        let value = update.value;
        let shared = graph.updates.iter().filter(|u| u.value == value).count() > 1
            || graph.outputs.iter().any(|o| o.node == value);
        if !graph.node(value).op.is_leaf() && !shared {
            hoisted[value.0] = true;
            replaces[value.0] = Some(update.variable);
        }
    }
    if !hoisted.contains(&true) {
        return;
    }
    // Readers of a variable's buffer, directly or through a transpose that
    // the std backend emits as a view of it (`plan::views`).
    let views = crate::plan::views(graph);
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); count];
    for variable in replaces.iter().flatten() {
        readers[variable.0] = (0..count)
            .filter(|&reader| crate::plan::reads_buffer(graph, &views, reader, *variable))
            .collect();
    }
    let mut placed = vec![false; count];
    let mut order: Vec<usize> = Vec::with_capacity(count);
    let ready = |index: usize, placed: &[bool]| {
        graph.nodes[index].operands.iter().all(|o| placed[o.0])
            && replaces[index].is_none_or(|variable| {
                readers[variable.0]
                    .iter()
                    .all(|&reader| reader == index || placed[reader])
            })
    };
    // The values to move, in their original order: as many as the updates,
    // so scanning them after each node keeps the pass linear in the nodes
    // for a given number of updates.
    let mut pending: Vec<usize> = (0..count).filter(|&index| hoisted[index]).collect();
    for index in 0..count {
        if hoisted[index] {
            continue;
        }
        placed[index] = true;
        order.push(index);
        // Every moved value that this node made ready, and those they make
        // ready in turn, in their original order.
        while let Some(at) = pending.iter().position(|&h| ready(h, &placed)) {
            let next = pending.remove(at);
            placed[next] = true;
            order.push(next);
        }
    }
    // Values that cannot move (two steps' updates reading each other's
    // variables) keep their place at the end, in order.
    order.extend((0..count).filter(|&index| !placed[index]));
    permute(graph, &order);
}

/// Puts the nodes in `order` (a permutation of their indices that keeps
/// operands before their users) and renumbers every reference.
fn permute(graph: &mut Graph, order: &[usize]) {
    let mut replacement = vec![NodeId(0); order.len()];
    for (position, &index) in order.iter().enumerate() {
        replacement[index] = NodeId(position);
    }
    let mut old: Vec<Option<crate::ir::Node>> = std::mem::take(&mut graph.nodes)
        .into_iter()
        .map(Some)
        .collect();
    graph.nodes = order
        .iter()
        .filter_map(|&index| old[index].take())
        .map(|mut node| {
            for operand in &mut node.operands {
                *operand = replacement[operand.0];
            }
            node
        })
        .collect();
    remap_roots(graph, &replacement);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimize::test_graph as graph;

    /// The position of the node computing the update of variable `name`.
    fn update_position(g: &Graph, name: &str) -> usize {
        g.updates
            .iter()
            .find(|u| g.node(u.variable).name.as_ref().is_some_and(|n| n == name))
            .map(|u| u.value.0)
            .expect("an update of that variable")
    }

    #[test]
    fn the_last_layer_is_updated_before_the_first_layer_s_gradient() {
        let mut g = graph(quote::quote! {
            struct Mlp {
                input x: [n, 4];
                input t: [n, 2];
                var w1: [4, 8];
                var w2: [8, 2];
                let h = relu(matmul(x, w1));
                let loss = mse(matmul(h, w2), t);
                step fit = minimize(loss, sgd(lr = 0.1));
            }
        });
        crate::optimize::run(&mut g);
        g.validate().unwrap();
        let w2_update = update_position(&g, "w2");
        // The gradient of w1 is a product with x; it comes after w2's update.
        let w1_update = update_position(&g, "w1");
        let w1_gradient = g
            .node(NodeId(w1_update))
            .operands
            .iter()
            .map(|o| o.0)
            .max()
            .unwrap();
        assert!(
            w2_update < w1_gradient,
            "w2 at {w2_update}, w1's gradient at {w1_gradient}"
        );
        // And after every reader of w2's current value.
        let w2 = g
            .updates
            .iter()
            .find(|u| u.value.0 == w2_update)
            .unwrap()
            .variable;
        for (index, node) in g.nodes.iter().enumerate() {
            if index != w2_update && node.operands.contains(&w2) {
                assert!(index < w2_update, "node {index} reads w2 after its update");
            }
        }
    }

    #[test]
    fn a_graph_without_updates_keeps_its_order() {
        let mut g = graph(quote::quote! {
            struct G {
                input x: [3];
                output y = exp(x) + 1.0;
            }
        });
        let before: Vec<&str> = g.nodes.iter().map(|n| n.op.word()).collect::<Vec<_>>();
        let before: Vec<String> = before.into_iter().map(str::to_owned).collect();
        order_updates_early(&mut g);
        let after: Vec<String> = g.nodes.iter().map(|n| n.op.word().to_owned()).collect();
        assert_eq!(before, after);
    }
}
