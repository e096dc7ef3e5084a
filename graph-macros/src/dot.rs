//! Graphviz DOT text of a graph IR. (Stub: filled in by the DOT export work.)

use crate::ir::Graph;

/// The graph as DOT text.
pub fn dot(_graph: &Graph) -> String {
    String::new()
}
