//! In-place execution: which values are computed over the buffer of an
//! operand instead of into storage of their own.
//!
//! This is planning, not optimization: the IR (what is computed) does not
//! change, only where values live, and the rules need what the planner
//! knows — each value's last use, and which values it put in workspace
//! slots. Two rules:
//!
//! - **Elementwise ops over a dying operand.** An elementwise node (unary,
//!   binary or fused, on `f32` arrays) may write its result over an operand
//!   that has exactly its shape and element type (no broadcasting), lives in
//!   a workspace slot, and is read for the last time by this node. Outputs
//!   and update values are live to the end, so they are never overwritten;
//!   nor are inputs, constants and variables (but by the next rule), which
//!   live in no slot. Each element of the result reads only the same element
//!   of that operand, so overwriting as it goes is safe, and the operand's
//!   slot serves both values: the workspace shrinks.
//! - **Variable updates in place.** An update `v = f(v, ..)` whose value is
//!   such an elementwise node, read by nothing but the update, is computed
//!   straight into the variable, provided `update_with` reads the variable's
//!   current value nowhere after that node: no later node reads it, and no
//!   update takes it as its new value (`a = v`), since every update's value
//!   must come from the current variables. No slot, and no copy at the end.
//!
//! A third question is about updates whose new value is another updated
//! variable (`a = b; b = a;`): that value must be copied before `b` is
//! stored, and the copy goes to a workspace slot, not to a fresh array, so
//! that `update_with` allocates nothing.
//!
//! The emitter (`emit::node`) then calls the op's own `_inplace` kernel
//! (`unary::relu_inplace`, `elementwise::sub_inplace` for `a - b` over `a`)
//! or `fused::mapN_inplace`, whose closure takes the overwritten element
//! first, on the slot or on `self.<variable>`.

use super::Storage;
use crate::ir::{DType, Graph, NodeId, Op, Update};

/// Whether node `id` is an elementwise op on `f32` arrays whose kernels have
/// an in-place form: unary and binary ops, and fused trees of them.
fn has_inplace_form(graph: &Graph, id: NodeId) -> bool {
    let node = graph.node(id);
    node.op
        .elementwise()
        .is_some_and(crate::ops::elementwise::Elementwise::has_in_place_form)
        && node.dtype == DType::F32
        && !graph.shape(id).is_scalar()
}

/// The operand whose slot node `id` may overwrite, if any: the first operand
/// of the node's shape and element type that lives in a slot and whose last
/// use (`last_use`, per node) is this node.
pub fn slot_target(
    graph: &Graph,
    id: NodeId,
    storage: &[Storage],
    last_use: &[usize],
) -> Option<NodeId> {
    if !has_inplace_form(graph, id) {
        return None;
    }
    let node = graph.node(id);
    node.operands.iter().copied().find(|&operand| {
        matches!(storage[operand.0], Storage::Slot(_))
            && last_use[operand.0] == id.0
            && graph.shape(operand) == graph.shape(id)
            && graph.node(operand).dtype == node.dtype
    })
}

/// Whether `update`'s value can be computed over its variable's buffer.
pub fn computes_in_variable(graph: &Graph, views: &[bool], update: &Update) -> bool {
    let (variable, value) = (update.variable, update.value);
    // A fused product update (`optimize::fuse_updates`) reads its variable
    // as operand 0, the buffer it accumulates into.
    let accumulates = matches!(
        graph.node(value).op,
        Op::Linalg(crate::ops::linalg::Linalg::Accumulate { .. })
    ) && graph.node(value).operands.first() == Some(&variable);
    if !(has_inplace_form(graph, value) || accumulates)
        || !graph.node(value).operands.contains(&variable)
        || graph.shape(variable) != graph.shape(value)
    {
        return false;
    }
    // Read by nothing but this update: not an output, not another update's
    // value, no node's operand. Only `update_with` then computes it.
    let readers = graph
        .nodes
        .iter()
        .flat_map(|node| &node.operands)
        .filter(|&&operand| operand == value)
        .count();
    let roots = graph.outputs.iter().filter(|o| o.node == value).count()
        + graph.updates.iter().filter(|u| u.value == value).count();
    if readers + roots != 1 {
        return false;
    }
    // The variable's current value must not be needed after `value`: by a
    // later node `update_with` computes, or by a store (`a = variable`).
    // (Only the updates of the same step, and its loss, run together.)
    let together = || graph.updates.iter().filter(|u| u.step == update.step);
    let loss = update
        .step
        .and_then(|step| graph.steps.get(step))
        .map(|s| s.loss);
    let needed = graph.reachable(together().map(|u| u.value).chain(loss));
    let read_later = (value.0 + 1..graph.nodes.len())
        .any(|index| needed[index] && super::reads_buffer(graph, views, index, variable));
    let stored_elsewhere = together().any(|u| u.value == variable);
    !read_later && !stored_elsewhere
}

/// Whether `update`'s new value is another variable that an update changes,
/// so that its current value must be copied before the stores.
pub fn needs_snapshot(graph: &Graph, update: &Update) -> bool {
    let value = update.value;
    value != update.variable
        && graph.node(value).op == Op::Variable
        && !graph.shape(value).is_scalar()
        && graph
            .updates
            .iter()
            .any(|u| u.variable == value && u.step == update.step)
}

#[cfg(test)]
mod tests {
    use super::super::{plan, Plan, Storage, Store};
    use crate::expand::build_graph;
    use crate::ir::{Graph, NodeId};
    use quote::quote;

    /// The optimized graph, as the emitter sees it, and its plan.
    fn planned(tokens: proc_macro2::TokenStream) -> (Graph, Plan) {
        let mut graph = build_graph(tokens).unwrap_or_else(|e| panic!("test graph is valid: {e}"));
        crate::optimize::run(&mut graph);
        let plan = plan(&graph);
        (graph, plan)
    }

    /// The node the user named `name`.
    fn named(graph: &Graph, name: &str) -> NodeId {
        let index = graph
            .nodes
            .iter()
            .position(|n| n.name.as_ref().is_some_and(|i| i == name))
            .unwrap_or_else(|| panic!("a node is named `{name}`"));
        NodeId(index)
    }

    fn overwrites(graph: &Graph, plan: &Plan, name: &str) -> Option<String> {
        let operand = plan.overwrites[named(graph, name).0]?;
        graph.node(operand).name.as_ref().map(ToString::to_string)
    }

    #[test]
    fn a_chain_broken_by_a_softmax_reuses_its_slot() {
        let (graph, plan) = planned(quote! {
            struct Chain {
                input x: [2, 8];
                let s = softmax(x);
                output y = exp(s) * 2.0;
            }
        });
        // `y` is one fused node reading `s` for the last time: it overwrites
        // `s`, and one slot of 16 floats serves both (two without in-place).
        assert_eq!(overwrites(&graph, &plan, "y").as_deref(), Some("s"));
        assert_eq!(plan.storage[named(&graph, "y").0], Storage::Slot(0));
        assert_eq!(plan.literal_bytes(), Some(16 * 4));
    }

    #[test]
    fn an_operand_read_later_is_not_overwritten() {
        let (graph, plan) = planned(quote! {
            struct Shared {
                input x: [2, 8];
                let s = softmax(x);
                let e = exp(s);
                output y = softmax(e) + s;
            }
        });
        // `s` is read again by `y`: `e` takes a slot of its own.
        assert_eq!(overwrites(&graph, &plan, "e"), None);
        assert_ne!(
            plan.storage[named(&graph, "e").0],
            plan.storage[named(&graph, "s").0]
        );
    }

    #[test]
    fn a_broadcast_operand_is_not_overwritten() {
        let (graph, plan) = planned(quote! {
            struct Broadcast {
                input x: [2, 8];
                let column = sum(x, axis = 1, keep_dims = true);
                output y = column * x;
            }
        });
        // `column` is [2, 1], `y` is [2, 8]: no room for the result.
        assert_eq!(overwrites(&graph, &plan, "y"), None);
    }

    #[test]
    fn outputs_and_leaves_are_not_overwritten() {
        let (graph, plan) = planned(quote! {
            struct Kept {
                input x: [2, 8];
                var w: [2, 8];
                const c: [2, 2] = [[1.0, 2.0], [3.0, 4.0]];
                output s = softmax(x);
                output y = exp(s);
                output z = exp(x) + w;
                output k = exp(c);
            }
        });
        // `s` is an output, live to the end; x, w and c live in no slot.
        for name in ["y", "z", "k"] {
            assert_eq!(overwrites(&graph, &plan, name), None, "{name}");
        }
    }

    #[test]
    fn scalars_are_not_overwritten() {
        let (graph, plan) = planned(quote! {
            struct Total {
                input x: [2, 8];
                let s = sum(x);
                output y = exp(s);
            }
        });
        // `s` is a scalar in a slot, read last by `exp`: too small to bother,
        // and read back into a local `f32` anyway.
        assert_eq!(overwrites(&graph, &plan, "y"), None);
    }

    #[test]
    fn no_std_plans_compute_in_place_too() {
        let mut graph = build_graph(quote! {
            #[no_std]
            struct Chain {
                input x: [2, 8];
                input g: [3];
                var w: [3];
                let s = softmax(x);
                let e = exp(s) * 2.0;
                output y = softmax(e);
                w = w - 0.5 * g;
            }
        })
        .unwrap_or_else(|e| panic!("test graph is valid: {e}"));
        crate::optimize::run(&mut graph);
        let plan = super::super::plan_bare(&graph);
        // `exp(s) * 2.0` (fused) overwrites `s`, which dies there: one slot
        // of 16 floats; `y` is returned, in none. The update is computed in
        // `w` (`flat::map_inplace`), in no slot.
        let e = graph.outputs[0].node;
        let e = graph.node(e).operands[0];
        assert!(plan.overwrites[e.0].is_some());
        assert_eq!(plan.literal_bytes(), Some(16 * 4));
        let update = &graph.updates[0];
        assert_eq!(plan.storage[update.value.0], Storage::Variable);
        assert_eq!(plan.stores, [super::super::Store::InPlace]);
    }

    #[test]
    fn updates_compute_in_the_variable() {
        let (graph, plan) = planned(quote! {
            struct Sgd {
                input g: [2, 3];
                input lr: [];
                var w: [2, 3];
                w = w - lr * g;
            }
        });
        let value = graph.updates[0].value;
        assert_eq!(plan.stores, [Store::InPlace]);
        assert_eq!(plan.storage[value.0], Storage::Variable);
        assert_eq!(plan.overwrites[value.0], Some(graph.updates[0].variable));
        assert_eq!(plan.literal_bytes(), Some(0), "no slot at all");
    }

    #[test]
    fn a_variable_read_by_a_later_update_keeps_its_value() {
        let (graph, plan) = planned(quote! {
            struct Coupled {
                input g: [3];
                var w: [3];
                var v: [3];
                w = w - g;
                v = v + w;
            }
        });
        // `v`'s new value reads `w`'s current one, so the memory order
        // (`optimize::order`) computes `v + w` first, in `v`, and then
        // `w - g`, in `w`: no slot.
        assert_eq!(plan.stores, [Store::InPlace, Store::InPlace]);
        assert!(graph.updates[1].value.0 < graph.updates[0].value.0);
        assert_eq!(plan.literal_bytes(), Some(0));

        // Unoptimized, `w - g` comes first, so its value goes to a slot and
        // is stored at the end.
        let mut graph = build_graph(quote! {
            #[optimize(off)]
            struct Coupled {
                input g: [3];
                var w: [3];
                var v: [3];
                w = w - g;
                v = v + w;
            }
        })
        .unwrap_or_else(|e| panic!("test graph is valid: {e}"));
        crate::optimize::fuse_elementwise(&mut graph);
        let plan = super::super::plan(&graph);
        assert_eq!(plan.stores, [Store::Assign, Store::Assign]);
    }

    #[test]
    fn a_variable_stored_elsewhere_keeps_its_value() {
        let (_, plan) = planned(quote! {
            struct Shift {
                var a: [3];
                var b: [3];
                a = b;
                b = b * 2.0;
            }
        });
        // `a` takes `b`'s current value, copied into a slot before `b`
        // changes; `b * 2.0` then cannot be computed in `b`.
        assert_eq!(plan.stores, [Store::Snapshot(1), Store::Assign]);
        // Slot 0 holds `b * 2.0`, slot 1 the copy of `b`.
        assert_eq!(plan.literal_bytes(), Some(2 * 3 * 4));
    }

    #[test]
    fn update_values_with_other_readers_stay_in_slots() {
        let (_, plan) = planned(quote! {
            struct Reported {
                input g: [3];
                var w: [3];
                let next = w - g;
                output preview = next;
                w = next;
            }
        });
        // `next` is an output too: `preview` reads it through `&self`.
        assert_eq!(plan.stores, [Store::Assign]);
    }

    #[test]
    fn update_values_not_reading_their_variable_stay_in_slots() {
        let (graph, plan) = planned(quote! {
            struct Reset {
                input x: [3];
                var w: [3];
                w = exp(x);
            }
        });
        // `exp(x)` does not read `w`, and `x` is an input, in no slot.
        assert_eq!(plan.stores, [Store::Assign]);
        assert_eq!(plan.overwrites[graph.updates[0].value.0], None);
        assert_eq!(plan.literal_bytes(), Some(3 * 4));
    }

    #[test]
    fn swaps_copy_into_slots_and_plain_values_are_assigned() {
        let (_, plan) = planned(quote! {
            struct Swap {
                input x: [2];
                var a: [2];
                var b: [2];
                var c: [2];
                var d: [];
                var e: [];
                a = b;
                b = a;
                c = x;
                d = e;
                e = d;
            }
        });
        assert_eq!(
            plan.stores,
            [
                Store::Snapshot(0),
                Store::Snapshot(1),
                Store::Assign,
                // Scalars are copied to locals first.
                Store::Assign,
                Store::Assign,
            ]
        );
        assert_eq!(plan.literal_bytes(), Some(2 * 2 * 4));
    }
}
