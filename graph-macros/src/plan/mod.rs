//! Static memory planning: which workspace slot holds each intermediate
//! value, and which values are computed in place.
//!
//! Runs on the optimized graph. The schedule is the node order (topological);
//! a value is live from its node to its last user, and outputs and update
//! values stay live to the end. Walking the schedule once, each value that
//! needs storage either overwrites an operand it reads for the last time (the
//! rules are in [`inplace`]) or takes a free slot of its element type (one
//! that held a value of the same shape if there is one); a slot is freed after
//! the last user of the value it holds. Every entry point runs a subsequence
//! of the `run` schedule in which no value lives longer, so one plan serves
//! them all.
//!
//! The plan also says how `update_with` stores each update ([`Store`]): all
//! new values are computed from the current ones before any is stored; and
//! which weight matrices keep a packed copy for batch-1 products
//! ([`packed`]).

mod inplace;
mod packed;

pub use inplace::computes_in_variable;

use crate::ir::{DType, Graph, NodeId, Op};

/// Where a node's value lives during a call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Storage {
    /// A Rust local: leaves (views of inputs, variables and constants),
    /// scalars computed with plain arithmetic, and kernels returning a plain
    /// scalar.
    Local,
    /// Workspace slot `index`.
    Slot(usize),
    /// The buffer of the variable the value updates, overwritten in place
    /// (`Plan::overwrites` names it). Such a value is read by nothing but its
    /// update, so only `update_with` computes it.
    Variable,
}

/// How `update_with` gives a variable its new value, once every new value
/// has been computed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Store {
    /// Copy the value into the variable: a slot's contents, an input, a
    /// constant, a variable that no update changes, or any scalar.
    Assign,
    /// Nothing left to do: the value was computed over the variable itself.
    InPlace,
    /// The value is another updated variable (`a = b; b = a;`): copy its
    /// current value into workspace slot `index` before any store, then
    /// from there into the variable.
    Snapshot(usize),
    /// `v = v`: nothing to do.
    Unchanged,
}

pub struct Plan {
    /// One entry per node.
    pub storage: Vec<Storage>,
    /// Per node, the operand whose buffer the node's value overwrites: a
    /// value in a slot that the node reads for the last time, or the
    /// variable the node's value updates.
    pub overwrites: Vec<Option<NodeId>>,
    /// One entry per update, in `Graph::updates` order.
    pub stores: Vec<Store>,
    /// The element type of each slot.
    pub slots: Vec<DType>,
    /// Per slot, the largest literal element count of the values it holds,
    /// or `None` if one of them has a symbolic size.
    pub slot_elements: Vec<Option<usize>>,
    /// Per node: a variable that keeps a packed copy for single-row
    /// products ([`packed`]).
    pub packed: Vec<bool>,
    /// Per node: a transpose emitted as a view of its operand, in no slot
    /// ([`views`]; std graphs only).
    pub views: Vec<bool>,
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
    node.op
        .elementwise()
        .is_some_and(crate::ops::elementwise::Elementwise::is_arithmetic)
        && node.operands.iter().all(|&o| graph.shape(o).is_scalar())
}

/// Whether the node's kernel writes into a slot (rather than returning a
/// plain scalar or being a leaf or plain arithmetic).
pub fn needs_slot(graph: &Graph, index: usize) -> bool {
    let node = &graph.nodes[index];
    let at = crate::ops::At::new(graph, NodeId(index));
    let plain_scalar_kernel = match &node.op {
        Op::Loss(op) => op.returns_scalar(),
        Op::Reduction(op) => op.returns_scalar(),
        Op::Linalg(op) => op.returns_scalar(at),
        Op::Input
        | Op::Variable
        | Op::Constant(_)
        | Op::Elementwise(_)
        | Op::Movement(_)
        | Op::Nn(_)
        | Op::Autodiff(_) => false,
    };
    !(node.op.is_leaf() || is_scalar_arithmetic(graph, index) || plain_scalar_kernel)
}

pub fn plan(graph: &Graph) -> Plan {
    plan_with(graph, Flavor::Std)
}

/// The plan of a `#[no_std]` graph: outputs are computed straight into the
/// arrays the entry points return, so they take no slot. Elementwise values
/// are computed in place as in std graphs (`flat::map_inplace`), over a
/// dying slot or the variable an update replaces.
pub fn plan_bare(graph: &Graph) -> Plan {
    plan_with(graph, Flavor::Bare)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// ndarray emission: outputs in slots, values computed in place.
    Std,
    /// `#[no_std]` emission: outputs in local arrays, no value in place.
    Bare,
}

/// Slots being handed out: their element types, sizes, and who holds them.
#[derive(Default)]
struct Slots<'g> {
    dtypes: Vec<DType>,
    elements: Vec<Option<usize>>,
    /// Per slot: the node whose value it holds now, if any.
    holder: Vec<Option<usize>>,
    /// Per slot: the shape of the last value it held.
    last_shape: Vec<&'g crate::shape::Shape>,
}

impl<'g> Slots<'g> {
    /// A free slot for node `index`'s value: one of its element type that
    /// last held a value of its shape; else, when the sizes are literal, the
    /// smallest free slot that holds it (best fit), or the largest one,
    /// which then grows the least; else any of its element type; else a new
    /// one. The slot is then held by `index` and sized for its shape.
    fn take(&mut self, index: usize, dtype: DType, shape: &'g crate::shape::Shape) -> usize {
        let free = |slot: &usize| self.holder[*slot].is_none() && self.dtypes[*slot] == dtype;
        let same_shape = (0..self.dtypes.len())
            .filter(free)
            .find(|&slot| self.last_shape[slot] == shape);
        let needed = shape
            .as_fixed()
            .and_then(|dims| dims.iter().try_fold(1usize, |p, &d| p.checked_mul(d)));
        let sized: Vec<(usize, usize)> = (0..self.dtypes.len())
            .filter(free)
            .filter_map(|slot| self.elements[slot].map(|capacity| (slot, capacity)))
            .collect();
        let best_fit = needed.and_then(|needed| {
            let fitting = sized
                .iter()
                .filter(|&&(_, capacity)| capacity >= needed)
                .min_by_key(|&&(_, capacity)| capacity);
            fitting
                .or_else(|| sized.iter().max_by_key(|&&(_, capacity)| capacity))
                .map(|&(slot, _)| slot)
        });
        let chosen = same_shape
            .or(best_fit)
            .or_else(|| (0..self.dtypes.len()).find(free));
        let slot = chosen.unwrap_or_else(|| {
            self.dtypes.push(dtype);
            self.elements.push(Some(0));
            self.holder.push(None);
            self.last_shape.push(shape);
            self.dtypes.len() - 1
        });
        self.hold(slot, index, shape);
        slot
    }

    /// Slot `slot` now holds node `index`'s value, of shape `shape`.
    fn hold(&mut self, slot: usize, index: usize, shape: &'g crate::shape::Shape) {
        self.holder[slot] = Some(index);
        self.last_shape[slot] = shape;
        let elements = shape
            .as_fixed()
            .and_then(|dims| dims.iter().try_fold(1usize, |p, &d| p.checked_mul(d)));
        self.elements[slot] = match (self.elements[slot], elements) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }
}

fn plan_with(graph: &Graph, flavor: Flavor) -> Plan {
    let count = graph.nodes.len();
    let mut is_output = vec![false; count];
    for output in &graph.outputs {
        is_output[output.node.0] = true;
    }
    let views = views(graph);
    let last_use = last_uses(graph, (flavor == Flavor::Std).then_some(&views[..]));
    let mut storage = vec![Storage::Local; count];
    let mut overwrites: Vec<Option<NodeId>> = vec![None; count];
    // Updates whose value is computed over the variable itself.
    let in_variable: Vec<bool> = graph
        .updates
        .iter()
        .map(|update| graph.optimize && inplace::computes_in_variable(graph, &views, update))
        .collect();
    for (update, &in_variable) in graph.updates.iter().zip(&in_variable) {
        if in_variable {
            storage[update.value.0] = Storage::Variable;
            overwrites[update.value.0] = Some(update.variable);
        }
    }
    let mut slots = Slots::default();
    for index in 0..count {
        // Free the slots of values whose last user came before this node
        // (unoptimized graphs give every value a slot of its own).
        for held in &mut slots.holder {
            if graph.optimize && held.is_some_and(|h| last_use[h] < index) {
                *held = None;
            }
        }
        if storage[index] == Storage::Variable
            || !needs_slot(graph, index)
            || (flavor == Flavor::Std && views[index])
            || (is_output[index] && flavor == Flavor::Bare)
        {
            continue;
        }
        let node = &graph.nodes[index];
        let shape = graph.shape(NodeId(index));
        let target = graph
            .optimize
            .then(|| inplace::slot_target(graph, NodeId(index), &storage, &last_use))
            .flatten();
        let slot = match target.map(|operand| storage[operand.0]) {
            Some(Storage::Slot(slot)) => {
                overwrites[index] = target;
                slots.hold(slot, index, shape);
                slot
            }
            _ => slots.take(index, node.dtype, shape),
        };
        storage[index] = Storage::Slot(slot);
        // A value nobody reads (a dead end kept alive only by a later pass)
        // frees its slot at once.
        if graph.optimize && last_use[index] == index {
            slots.holder[slot] = None;
        }
    }
    // Snapshots are taken after every node has run: any slot not holding an
    // output or an update value is free by then.
    for held in &mut slots.holder {
        if graph.optimize && held.is_some_and(|h| last_use[h] != usize::MAX) {
            *held = None;
        }
    }
    let stores = graph
        .updates
        .iter()
        .zip(&in_variable)
        .map(|(update, &in_variable)| {
            if update.value == update.variable {
                Store::Unchanged
            } else if in_variable {
                Store::InPlace
            } else if inplace::needs_snapshot(graph, update) {
                let shape = graph.shape(update.variable);
                Store::Snapshot(slots.take(update.value.0, DType::F32, shape))
            } else {
                Store::Assign
            }
        })
        .collect();
    Plan {
        storage,
        overwrites,
        stores,
        slots: slots.dtypes,
        slot_elements: slots.elements,
        packed: if graph.optimize {
            packed::packed_weights(graph)
        } else {
            vec![false; count]
        },
        views: if flavor == Flavor::Std {
            views
        } else {
            vec![false; count]
        },
    }
}

/// The index of the last node reading each node's value; `usize::MAX` for
/// values live to the end (outputs and update values), the node's own index
/// for values nobody reads.
///
/// With `views` (per node, from [`views`]), a value that a view shows lives
/// as long as the view: its buffer is the view's.
fn last_uses(graph: &Graph, views: Option<&[bool]>) -> Vec<usize> {
    let mut last_use: Vec<usize> = (0..graph.nodes.len()).collect();
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
    if let Some(views) = views {
        // Last first, so that a view of a view passes its life on.
        for index in (0..graph.nodes.len()).rev() {
            if views[index] {
                let base = graph.nodes[index].operands[0];
                last_use[base.0] = last_use[base.0].max(last_use[index]);
            }
        }
    }
    last_use
}

/// Per node, whether it is a transpose of a matrix that the std backend
/// emits as a view of its operand (`reversed_axes`), with no slot and no
/// copy: one that only products read, as either operand (`xᵀ·g` and `g·wᵀ`
/// in the backward pass of every `matmul`). The tile kernel reads a
/// transposed left operand with any strides at full speed, and packs a
/// transposed right operand strip by strip through registers, which costs
/// less than copying it whole first (and needs no workspace); products of
/// at most 4 rows read it in place with the dot kernel.
/// Outputs and update values stay copies, which their callers own or keep,
/// and so does everything in an `#[optimize(off)]` graph, the reference
/// computed as written.
/// Linear in the nodes and their operands.
pub fn views(graph: &Graph) -> Vec<bool> {
    let count = graph.nodes.len();
    let mut only_products_read = vec![true; count];
    for reader in &graph.nodes {
        let product = matches!(
            reader.op,
            Op::Linalg(
                crate::ops::linalg::Linalg::MatMul | crate::ops::linalg::Linalg::Dense { .. }
            )
        );
        for (position, operand) in reader.operands.iter().enumerate() {
            // The two factors; a dense node's bias comes third.
            if !product || position > 1 {
                only_products_read[operand.0] = false;
            }
        }
    }
    for root in graph
        .outputs
        .iter()
        .map(|o| o.node)
        .chain(graph.updates.iter().map(|u| u.value))
    {
        only_products_read[root.0] = false;
    }
    (0..count)
        .map(|index| {
            graph.optimize
                && only_products_read[index]
                && matches!(
                    &graph.nodes[index].op,
                    Op::Movement(crate::ops::movement::Movement::Transpose(axes))
                        if axes.as_deref().is_none_or(|axes| axes == [1, 0])
                )
                && graph.nodes[index]
                    .shape
                    .as_ref()
                    .is_some_and(|shape| shape.rank() == 2)
        })
        .collect()
}

/// Whether node `index` reads `target`'s buffer: as an operand, or through
/// a view of it (`views`, from [`views`]), which the std backend makes of
/// transposes (so every backend is held to the stricter rule).
pub fn reads_buffer(graph: &Graph, views: &[bool], index: usize, target: NodeId) -> bool {
    graph.nodes[index].operands.iter().any(|&operand| {
        operand == target || (views[operand.0] && reads_buffer(graph, views, operand.0, target))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expand::build_graph;
    use quote::quote;

    #[test]
    fn chain_reuses_two_slots() {
        // x -> a -> b -> c -> d -> y: each value dies at its only user, so two
        // slots alternate (none of these ops can run in place).
        let graph = build_graph(quote! {
            struct Chain {
                input x: [n, 4];
                let a = softmax(x);
                let b = log_softmax(a);
                let c = softmax(b);
                let d = log_softmax(c);
                output y = softmax(d);
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
    fn elementwise_chain_runs_in_one_slot() {
        // The same chain of elementwise ops (unfused here): each overwrites
        // the value it reads for the last time.
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
        assert_eq!(plan.slots.len(), 1, "{:?}", plan.storage);
        // `a` reads the input `x`, which lives in no slot: it takes one.
        assert_eq!(plan.overwrites.iter().flatten().count(), 4);
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
        // slot; `second` is the last reader of `t` (and of `h`), and
        // overwrites `t`, its first operand.
        let slots: Vec<usize> = plan
            .storage
            .iter()
            .filter_map(|s| match s {
                Storage::Slot(slot) => Some(*slot),
                Storage::Local | Storage::Variable => None,
            })
            .collect();
        assert_eq!(slots, [0, 1, 2, 2]);
        assert_eq!(plan.literal_bytes(), Some(3 * 6 * 4));
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
