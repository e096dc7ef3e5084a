//! Phase 5, optimization: IR-to-IR passes over a checked graph.
//!
//! Each pass is a `fn(&mut Graph)` in its own module, with unit tests on the
//! IR; each keeps the graph valid (topological order, every shape known) and
//! keeps the span and name of the node the user wrote. `run` lists them in
//! order. Choosing where values live (workspace slots, in-place updates) is
//! not an IR rewrite: it is the planner's job (`plan`), after these passes.

mod cse;
mod dce;
mod fold;
mod fuse_conv;
mod fuse_dense;
mod fuse_elementwise;
mod fuse_update;
mod order;

pub use cse::eliminate_common_subexpressions;
pub use dce::eliminate_dead_nodes;
pub use fold::fold_constants;
pub use fuse_conv::fuse_conv;
pub use fuse_dense::fuse_dense;
pub use fuse_elementwise::fuse_elementwise;
pub use fuse_update::fuse_updates;
pub use order::order_updates_early;

use crate::ir::{Graph, NodeId};

pub fn run(graph: &mut Graph) {
    fold_constants(graph);
    eliminate_common_subexpressions(graph);
    // The merged duplicates are dead now: dropped before fusion counts uses.
    eliminate_dead_nodes(graph);
    fuse_dense(graph);
    fuse_conv(graph);
    fuse_elementwise(graph);
    eliminate_dead_nodes(graph);
    order_updates_early(graph);
    fuse_updates(graph);
}

/// How many times each node's value is used: by other nodes, as an output,
/// or as the new value of a variable.
fn use_counts(graph: &Graph) -> Vec<usize> {
    let mut uses = vec![0; graph.nodes.len()];
    for node in &graph.nodes {
        for operand in &node.operands {
            uses[operand.0] += 1;
        }
    }
    for output in &graph.outputs {
        uses[output.node.0] += 1;
    }
    for update in &graph.updates {
        uses[update.value.0] += 1;
    }
    uses
}

/// Whether node `id` is an intermediate that only one node reads, so that
/// node may absorb it.
fn absorbable(graph: &Graph, uses: &[usize], id: NodeId) -> bool {
    uses[id.0] == 1
        && !graph.outputs.iter().any(|o| o.node == id)
        && !graph.updates.iter().any(|u| u.value == id)
}

/// Points every reference from outside the node list at its replacement.
pub(crate) fn remap_roots(graph: &mut Graph, replacement: &[NodeId]) {
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
    for id in &mut graph.state {
        *id = replacement[id.0];
    }
    for (id, _) in &mut graph.initial {
        *id = replacement[id.0];
    }
    for (id, _) in &mut graph.docs {
        *id = replacement[id.0];
    }
    for step in &mut graph.steps {
        step.loss = replacement[step.loss.0];
        step.lr = replacement[step.lr.0];
        for var in step.vars.iter_mut().flatten() {
            *var = replacement[var.0];
        }
    }
}

/// The checked IR of a graph written in the test, for the passes' tests.
#[cfg(test)]
fn test_graph(tokens: proc_macro2::TokenStream) -> Graph {
    crate::expand::build_graph(tokens).unwrap_or_else(|e| panic!("test graph is valid: {e}"))
}
