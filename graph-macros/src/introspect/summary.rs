//! The summary of a graph: parameters, FLOPs and peak workspace, computed
//! from the optimized IR and emitted as a `summary::Summary` constant.

use proc_macro2::TokenStream;
use quote::quote;

use super::cost;
use super::poly::Polynomial;
use crate::ir::{Graph, NodeId, Op};
use crate::shape::Dim;

/// What one call computes and holds, before emission.
#[derive(Debug, PartialEq, Eq)]
pub struct Cost {
    pub flops: Polynomial,
    /// Candidates for the peak, none bounded by another or by a mix of two.
    pub workspace: Vec<Polynomial>,
}

/// The cost of computing `roots`, which stay live to the end of the call.
///
/// The schedule is the graph's node order restricted to what the roots
/// need. At the step computing node `j`, the values live are those computed
/// at or before `j` and used at or after it (the roots: to the end); their
/// bytes at each step are the candidates for the peak.
pub fn cost(graph: &Graph, roots: &[NodeId]) -> Cost {
    let needed = graph.reachable(roots.iter().copied());
    let steps: Vec<NodeId> = (0..graph.nodes.len())
        .map(NodeId)
        .filter(|&id| needed[id.0] && !graph.node(id).op.is_leaf())
        .collect();
    let mut last_use: Vec<usize> = (0..graph.nodes.len()).collect();
    for &step in &steps {
        for &operand in &graph.node(step).operands {
            last_use[operand.0] = last_use[operand.0].max(step.0);
        }
    }
    for root in roots {
        last_use[root.0] = usize::MAX;
    }
    let mut flops = Polynomial::default();
    let mut live = Polynomial::default();
    let mut candidates: Vec<Polynomial> = Vec::with_capacity(steps.len());
    for &step in &steps {
        flops.add(&cost::flops(graph, step));
        live.add(&cost::bytes(graph, step));
        candidates.push(live.clone());
        // Operands read for the last time die after this step (once each,
        // however often the step reads them; leaves were never counted).
        let mut operands = graph.node(step).operands.clone();
        operands.sort_unstable();
        operands.dedup();
        for operand in operands {
            if last_use[operand.0] == step.0 && !graph.node(operand).op.is_leaf() {
                live.subtract(&cost::bytes(graph, operand));
            }
        }
    }
    Cost {
        flops,
        workspace: unbounded(candidates),
    }
}

/// Above this many candidates left by the one-by-one bounds, mixes of two
/// are not tried (that check is cubic); the peak stays exact, only its
/// formula longer.
const MAX_MIXED: usize = 64;

/// The candidates whose maximum is the peak, fewer of them: a candidate is
/// dropped when another one bounds it term by term (of equal ones, the
/// first stays), then, in schedule order, when a mix of two of those still
/// kept does. A dropped candidate is below the maximum of those kept when it
/// was dropped, so the maximum never changes.
fn unbounded(candidates: Vec<Polynomial>) -> Vec<Polynomial> {
    // One by one, keeping an antichain: usually short, so this is linear.
    let mut kept: Vec<Polynomial> = Vec::new();
    for candidate in candidates {
        if candidate.is_zero() || kept.iter().any(|k| candidate.bounded_by_mix(k, k)) {
            continue;
        }
        kept.retain(|k| !k.bounded_by_mix(&candidate, &candidate));
        kept.push(candidate);
    }
    if kept.len() > MAX_MIXED {
        return kept;
    }
    let mut index = 0;
    while index < kept.len() {
        let candidate = &kept[index];
        let others: Vec<&Polynomial> = kept
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != index)
            .map(|(_, other)| other)
            .collect();
        let bounded = others
            .iter()
            .enumerate()
            .any(|(i, a)| others[i..].iter().any(|b| candidate.bounded_by_mix(a, b)));
        if bounded {
            kept.remove(index);
        } else {
            index += 1;
        }
    }
    kept
}

/// Elements and bytes of a group of leaves.
fn footprint(graph: &Graph, ids: &[NodeId]) -> TokenStream {
    let tensors = ids.len();
    let elements: usize = ids
        .iter()
        .map(|&id| {
            graph.shape(id).as_fixed().map_or(0, |dims| {
                dims.iter().fold(1, |p: usize, &d| p.saturating_mul(d))
            })
        })
        .fold(0, usize::saturating_add);
    let bytes = elements.saturating_mul(4);
    quote! {
        ::staticflow::__private::summary::Footprint {
            tensors: #tensors,
            elements: #elements,
            bytes: #bytes,
        }
    }
}

fn cost_tokens(cost: &Cost) -> TokenStream {
    let flops = cost.flops.tokens();
    let candidates = cost.workspace.iter().map(Polynomial::tokens);
    quote! {
        ::staticflow::__private::summary::Cost {
            flops: #flops,
            workspace: ::staticflow::__private::summary::Peak { candidates: &[#(#candidates),*] },
        }
    }
}

fn node_tokens(graph: &Graph, id: NodeId) -> TokenStream {
    let p = quote! { ::staticflow::__private };
    let node = graph.node(id);
    let name = node.name.as_ref().map_or_else(
        || quote! { ::core::option::Option::None },
        |name| {
            let name = name.to_string();
            quote! { ::core::option::Option::Some(#name) }
        },
    );
    let op = node.called.unwrap_or_else(|| node.op.word());
    let shape = graph.shape(id).0.iter().map(|dim| match dim {
        Dim::Fixed(size) => quote! { #p::Dim::Fixed(#size) },
        Dim::Symbol(symbol) => quote! { #p::Dim::Symbol(#symbol) },
    });
    let params = if node.op == Op::Variable {
        graph
            .shape(id)
            .as_fixed()
            .map_or(0, |dims| dims.iter().product::<usize>())
    } else {
        0
    };
    let flops = cost::flops(graph, id).tokens();
    quote! {
        #p::summary::NodeSummary {
            name: #name,
            op: #op,
            shape: &[#(#shape),*],
            params: #params,
            flops: #flops,
        }
    }
}

/// The `summary::Summary` constant expression of an optimized graph.
pub fn tokens(graph: &Graph) -> TokenStream {
    let name = graph.name.to_string();
    let mut symbols: Vec<&str> = Vec::new();
    for node in &graph.nodes {
        for symbol in node.shape.iter().flat_map(crate::shape::Shape::symbols) {
            if !symbols.contains(&symbol) {
                symbols.push(symbol);
            }
        }
    }
    let nodes = (0..graph.nodes.len()).map(|i| node_tokens(graph, NodeId(i)));
    let constants: Vec<NodeId> = (0..graph.nodes.len())
        .map(NodeId)
        .filter(|&id| matches!(graph.node(id).op, Op::Constant(_)))
        .collect();
    let (state, parameters): (Vec<NodeId>, Vec<NodeId>) = graph
        .variables
        .iter()
        .partition(|id| graph.state.contains(id));
    let optimizer_state = footprint(graph, &state);
    let parameters = footprint(graph, &parameters);
    let constants = footprint(graph, &constants);
    let outputs: Vec<NodeId> = graph.outputs.iter().map(|o| o.node).collect();
    let run = cost_tokens(&cost(graph, &outputs));
    let values_of = |step: Option<usize>| -> Vec<NodeId> {
        graph
            .updates
            .iter()
            .filter(|u| u.step == step)
            .map(|u| u.value)
            .collect()
    };
    let plain = values_of(None);
    let update = if plain.is_empty() {
        quote! { ::core::option::Option::None }
    } else {
        let update = cost_tokens(&cost(graph, &plain));
        quote! { ::core::option::Option::Some(#update) }
    };
    let steps = graph.steps.iter().enumerate().map(|(index, step)| {
        let name = step.name.to_string();
        let mut roots = values_of(Some(index));
        roots.push(step.loss);
        let trained: Vec<NodeId> = graph
            .updates
            .iter()
            .filter(|u| u.step == Some(index) && !graph.state.contains(&u.variable))
            .map(|u| u.variable)
            .collect();
        let trained = footprint(graph, &trained);
        let cost = cost_tokens(&cost(graph, &roots));
        quote! {
            ::staticflow::__private::summary::StepSummary { name: #name, trained: #trained, cost: #cost }
        }
    });
    quote! {
        ::staticflow::__private::summary::Summary {
            name: #name,
            symbols: &[#(#symbols),*],
            nodes: &[#(#nodes),*],
            parameters: #parameters,
            constants: #constants,
            run: #run,
            update: #update,
            optimizer_state: #optimizer_state,
            steps: &[#(#steps),*],
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;
    use crate::expand::build_graph;

    /// The checked graph, unoptimized so that the costs counted here do
    /// not depend on what the optimizer fuses.
    fn checked(tokens: TokenStream) -> Graph {
        build_graph(tokens).expect("test graph is valid")
    }

    fn strings(polynomials: &[Polynomial]) -> Vec<String> {
        polynomials.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_chain_peaks_where_two_values_overlap() {
        let graph = checked(quote! {
            struct Chain {
                input x: [n, 4];
                var w: [4, 3];
                var b: [3];
                output y = softmax(relu(matmul(x, w) + b));
            }
        });
        let outputs: Vec<NodeId> = graph.outputs.iter().map(|o| o.node).collect();
        let run = cost(&graph, &outputs);
        // matmul 2·4·3 per row, then 3 per row for each of add and relu, 15 for softmax.
        assert_eq!(run.flops.to_string(), "45·n");
        // Each step holds its operand and its result: 2 · 3·n · 4 bytes.
        assert_eq!(strings(&run.workspace), ["24·n"]);
    }

    #[test]
    fn a_peak_that_depends_on_the_sizes_keeps_both_candidates() {
        let graph = checked(quote! {
            struct Shrink {
                input x: [n, 4];
                var w: [4, 64];
                let wide = matmul(x, w);
                output total = sum(wide, axis = 0);
                output table = matmul(transpose(w), w);
            }
        });
        let outputs: Vec<NodeId> = graph.outputs.iter().map(|o| o.node).collect();
        let run = cost(&graph, &outputs);
        // Steps: wide [n, 64] holds 256·n bytes; total [64] adds 256 while
        // wide is still read; then wide is dead, and transpose [64, 4] (1024)
        // and table [64, 64] (16384) join total (256): 17664 bytes.
        assert_eq!(strings(&run.workspace), ["256·n + 256", "17664"]);
        // Pruning keeps the sum of both kinds of terms (64·n + 64 bounds
        // 64·n and its repeat) and the constant no mix of the others bounds.
        let wide = super::cost::elements(&crate::shape::tests::shape("n, 64"));
        let candidates = vec![
            wide.clone(),
            wide.clone().plus(&Polynomial::constant(64)),
            Polynomial::constant(17664),
            wide,
        ];
        assert_eq!(strings(&unbounded(candidates)), ["64·n + 64", "17664"]);
        assert_eq!(run.flops.to_string(), "576·n + 32768");
    }

    #[test]
    fn updates_are_costed_on_their_own() {
        let graph = checked(quote! {
            struct Step {
                input x: [n, 2];
                var w: [2];
                var count: [];
                output y = matmul(x, w);
                w = w - 0.5 * w;
                count = count + 1.0;
            }
        });
        let values: Vec<NodeId> = graph.updates.iter().map(|u| u.value).collect();
        let update = cost(&graph, &values);
        // 0.5 · w and w - that: 2 each; count + 1: 1.
        assert_eq!(update.flops.to_string(), "5");
        // At its peak the update holds 0.5·w and the new w (8 bytes each),
        // then the new w and the new count.
        assert_eq!(strings(&update.workspace), ["16"]);
    }

    #[test]
    fn summary_tokens_name_every_node() {
        let graph = checked(quote! {
            struct Tiny {
                input x: [n];
                const k = 2.0;
                var w: [3, 4];
                output y = x * k;
                output z = matmul(w, transpose(w));
            }
        });
        let tokens = tokens(&graph).to_string();
        for expected in [
            "name : \"Tiny\"",
            "symbols : & [\"n\"]",
            "name : :: core :: option :: Option :: Some (\"x\")",
            "op : \"const\"",
            "params : 12usize",
            "op : \"transpose\"",
            "tensors : 1usize , elements : 12usize , bytes : 48usize",
            "update : :: core :: option :: Option :: None",
        ] {
            assert!(tokens.contains(expected), "{expected} in {tokens}");
        }
    }
}
