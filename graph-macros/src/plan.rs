//! Static memory planning: which workspace slot holds each intermediate value.
//!
//! Runs on the optimized graph. The schedule is the node order (topological);
//! a value is live from its node to its last user, and outputs and update
//! values stay live to the end. Walking the schedule once, each value that
//! needs storage takes a free slot of its element type (one that held a
//! value of the same shape if there is one), and its slot is freed after its
//! last user. Every entry point runs a subsequence of the `run` schedule in
//! which no value lives longer, so one plan serves them all.

use crate::ir::{DType, Graph, Op};

/// Where a node's value lives during a call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Storage {
    /// A Rust local: leaves (views of inputs, variables and constants),
    /// scalars computed with plain arithmetic, and kernels returning a plain
    /// scalar.
    Local,
    /// Workspace slot `index`.
    Slot(usize),
}

pub struct Plan {
    /// One entry per node.
    pub storage: Vec<Storage>,
    /// The element type of each slot.
    pub slots: Vec<DType>,
    /// Per slot, the largest literal element count of the values it holds,
    /// or `None` if one of them has a symbolic size.
    pub slot_elements: Vec<Option<usize>>,
}

impl Plan {
    /// Bytes of workspace a call needs, when every planned shape is literal.
    /// `None` also when the total does not fit a `usize`, however unlikely
    /// such a graph is to be run.
    pub fn literal_bytes(&self) -> Option<usize> {
        self.slots
            .iter()
            .zip(&self.slot_elements)
            .try_fold(0usize, |total, (dtype, elements)| {
                total.checked_add((*elements)?.checked_mul(element_bytes(*dtype))?)
            })
    }
}

fn element_bytes(dtype: DType) -> usize {
    match dtype {
        DType::F32 => 4,
        DType::Usize => std::mem::size_of::<usize>(),
        DType::Bool => 1,
    }
}

/// Whether the node is `+ - * /` or negation of scalars, which the emitter
/// writes as plain Rust arithmetic on `f32` locals.
pub fn is_scalar_arithmetic(graph: &Graph, index: usize) -> bool {
    let node = &graph.nodes[index];
    matches!(
        node.op,
        Op::Binary(
            crate::ir::Binary::Add
                | crate::ir::Binary::Sub
                | crate::ir::Binary::Mul
                | crate::ir::Binary::Div
        ) | Op::Unary(crate::ir::Unary::Neg)
    ) && node.operands.iter().all(|&o| graph.shape(o).is_scalar())
}

/// Whether the node's kernel writes into a slot (rather than returning a
/// plain scalar or being a leaf or plain arithmetic).
pub fn needs_slot(graph: &Graph, index: usize) -> bool {
    let node = &graph.nodes[index];
    if node.op.is_leaf() {
        return false;
    }
    let scalar_arithmetic = is_scalar_arithmetic(graph, index);
    let plain_scalar_kernel = matches!(node.op, Op::Mse)
        || (node.op == Op::MatMul && graph.shape(crate::ir::NodeId(index)).is_scalar());
    !(scalar_arithmetic || plain_scalar_kernel)
}

pub fn plan(graph: &Graph) -> Plan {
    plan_with(graph, true)
}

/// The plan of a `#[no_std]` graph: outputs are computed straight into the
/// arrays the entry points return, so they take no slot.
pub fn plan_bare(graph: &Graph) -> Plan {
    plan_with(graph, false)
}

fn plan_with(graph: &Graph, outputs_in_slots: bool) -> Plan {
    let count = graph.nodes.len();
    let mut is_output = vec![false; count];
    for output in &graph.outputs {
        is_output[output.node.0] = true;
    }
    // Last use of each node; `usize::MAX` for values live to the end.
    let mut last_use: Vec<usize> = (0..count).collect();
    for (index, node) in graph.nodes.iter().enumerate() {
        for operand in &node.operands {
            last_use[operand.0] = last_use[operand.0].max(index);
        }
    }
    for output in &graph.outputs {
        last_use[output.node.0] = usize::MAX;
    }
    for update in &graph.updates {
        last_use[update.value.0] = usize::MAX;
    }
    let mut storage = vec![Storage::Local; count];
    let mut slots: Vec<DType> = Vec::new();
    let mut slot_elements: Vec<Option<usize>> = Vec::new();
    // Per slot: the node whose value it holds now, if any, and the shape of
    // the last value it held.
    let mut holder: Vec<Option<usize>> = Vec::new();
    let mut last_shape: Vec<&crate::shape::Shape> = Vec::new();
    for index in 0..count {
        // Free the slots of values whose last user came before this node.
        for held in &mut holder {
            if held.is_some_and(|h| last_use[h] < index) {
                *held = None;
            }
        }
        if !needs_slot(graph, index) || (is_output[index] && !outputs_in_slots) {
            continue;
        }
        let node = &graph.nodes[index];
        let shape = graph.shape(crate::ir::NodeId(index));
        let free = |slot: &usize| holder[*slot].is_none() && slots[*slot] == node.dtype;
        let same_shape = (0..slots.len())
            .filter(free)
            .find(|&slot| last_shape[slot] == shape);
        let chosen = same_shape.or_else(|| (0..slots.len()).find(free));
        let slot = chosen.unwrap_or_else(|| {
            slots.push(node.dtype);
            slot_elements.push(Some(0));
            holder.push(None);
            last_shape.push(shape);
            slots.len() - 1
        });
        holder[slot] = Some(index);
        last_shape[slot] = shape;
        storage[index] = Storage::Slot(slot);
        let elements = shape
            .as_fixed()
            .and_then(|dims| dims.iter().try_fold(1usize, |p, &d| p.checked_mul(d)));
        slot_elements[slot] = match (slot_elements[slot], elements) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        // A value nobody reads (a dead end kept alive only by a later pass)
        // frees its slot at once.
        if last_use[index] == index {
            holder[slot] = None;
        }
    }
    Plan {
        storage,
        slots,
        slot_elements,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expand::build_graph;
    use quote::quote;

    #[test]
    fn chain_reuses_two_slots() {
        // x -> a -> b -> c -> d -> y: each value dies at its only user, so two
        // slots alternate.
        let graph = build_graph(quote! {
            struct Chain {
                input x: [n, 4];
                let a = x * 2.0;
                let b = a + 1.0;
                let c = b * b;
                let d = c - 1.0;
                output y = d / 2.0;
            }
        })
        .unwrap();
        let plan = plan(&graph);
        assert_eq!(plan.slots.len(), 2, "{:?}", plan.storage);
        let slot_of = |name: &str| {
            let index = graph
                .nodes
                .iter()
                .position(|n| n.name.as_ref().is_some_and(|i| i == name))
                .unwrap();
            plan.storage[index]
        };
        assert_ne!(slot_of("a"), slot_of("b"));
        assert_eq!(slot_of("a"), slot_of("c"));
        assert_eq!(plan.literal_bytes(), None, "the batch dim is symbolic");
    }

    #[test]
    fn outputs_and_shared_values_keep_their_slots() {
        let graph = build_graph(quote! {
            struct Shared {
                input x: [2, 3];
                let h = x * 2.0;
                output first = h + 1.0;
                let t = h * h;
                output second = t - h;
            }
        })
        .unwrap();
        let plan = plan(&graph);
        // h lives until `second`; `first` is an output; `t` needs a third
        // slot, and `second` a fourth: nothing is free while all are live.
        let slots: Vec<usize> = plan
            .storage
            .iter()
            .filter_map(|s| match s {
                Storage::Slot(slot) => Some(*slot),
                Storage::Local => None,
            })
            .collect();
        assert_eq!(slots, [0, 1, 2, 3]);
        assert_eq!(plan.literal_bytes(), Some(4 * 6 * 4));
    }

    #[test]
    fn scalars_stay_local() {
        let graph = build_graph(quote! {
            struct Seed {
                input a: [];
                input b: [];
                output res = (a * b) / (a + b);
            }
        })
        .unwrap();
        let plan = plan(&graph);
        assert!(plan.slots.is_empty());
        assert_eq!(plan.literal_bytes(), Some(0));
    }
}
