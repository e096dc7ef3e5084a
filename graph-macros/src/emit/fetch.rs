//! The shared schedule of a graph with several outputs, used by both
//! backends.
//!
//! Each output's method computes only the nodes that output needs. Writing
//! those statements out once per method would restate every shared node in
//! every method: on a 1,000-node chain with 100 outputs, 50,000 statements.
//! Instead, a graph with more than one output has one private
//! `__fetch_with` that holds every node's statement once, in topological
//! order, and a fetch mask saying which outputs the caller wants. Each
//! output method, and `run`, is a call of it, so the expansion grows with
//! nodes plus outputs:
//!
//! ```text
//! fn __fetch_with<'a>(&'a self, __ws: &'a mut MlpWorkspace, __want: [bool; 2],
//!     x: Option<ArrayView<'a, f32, Ix2>>) -> Result<MlpFetched<'a>, Error> {
//!     let mut __need = [false; 9];
//!     __need[7] |= __want[0];
//!     __need[8] |= __want[1];
//!     if __need[8] { __need[7] = true; }
//!     if __need[7] { __need[5] = true; }
//!     ..
//!     let h = match (__need[5], x) {
//!         (true, Some(x)) => { kernels::..(x.view(), w.view(), __ws.s0.out(..)); let h = __ws.s0.get(..); Some(h) }
//!         _ => None,
//!     };
//!     ..
//!     Ok(MlpFetched { logits, probs })
//! }
//! ```
//!
//! `__need` starts from the wanted outputs and is closed over operands in
//! reverse topological order, one `if` per node. A node's value is an
//! `Option`, `Some` exactly when the node ran; a node runs when it is needed,
//! and then every operand it reads is `Some` (an operand of a needed node
//! is needed, and an input a needed node reads is one the method was
//! given), so the `_ => None` arm is taken only by nodes that are not
//! needed. Variables and constants are bound unconditionally: binding them
//! is a view, not a computation.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::ir::{Graph, NodeId, Op};
use crate::plan::Plan;

/// Whether the entry points of `graph` share one schedule: when it has
/// more than one output (with one, its method is the schedule, and `run`
/// calls it).
pub(crate) fn shared(graph: &Graph) -> bool {
    graph.outputs.len() > 1
}

/// What a graph's shared schedule covers: the nodes some output needs, and
/// the inputs `__fetch_with` takes, in parameter order.
pub(crate) struct Schedule {
    pub needed: Vec<bool>,
    pub inputs: Vec<NodeId>,
}

impl Schedule {
    /// The schedule of `graph`, if it shares one ([`shared`]); `inputs_of`
    /// gives the inputs of an entry point computing the nodes it is given,
    /// as the backend's entry points take them.
    pub fn of(graph: &Graph, inputs_of: impl Fn(&Graph, &[bool]) -> Vec<NodeId>) -> Option<Self> {
        if !shared(graph) {
            return None;
        }
        let needed = graph.reachable(graph.outputs.iter().map(|o| o.node));
        let inputs = inputs_of(graph, &needed);
        Some(Schedule { needed, inputs })
    }

    /// The call `self.__fetch_with(__ws, [..], ..)` of an entry point
    /// computing the outputs `wanted` (indices into the graph's outputs)
    /// from the inputs it `takes`: those as `Some`, the others `None`.
    pub fn call(&self, graph: &Graph, wanted: &[usize], takes: &[NodeId]) -> TokenStream {
        let want = (0..graph.outputs.len()).map(|k| wanted.contains(&k));
        let args = self.inputs.iter().map(|id| {
            let name = super::local(graph, *id);
            if takes.contains(id) {
                quote! { ::core::option::Option::Some(#name) }
            } else {
                quote! { ::core::option::Option::None }
            }
        });
        quote! { self.__fetch_with(__ws, [#(#want),*], #(#args),*) }
    }
}

/// The name of the private struct of `Option`s `__fetch_with` returns.
pub(crate) fn fetched_name(graph: &Graph) -> Ident {
    format_ident!("{}Fetched", graph.name)
}

/// The doc comment of that struct.
pub(crate) fn fetched_doc(graph: &Graph) -> String {
    format!(
        " The outputs of [`{}`] one call of `__fetch_with` computed: `Some` for those it \
         was asked for.",
        graph.name
    )
}

/// Whether node `id`'s local in `__fetch_with` is an `Option`: inputs (the
/// method may not be given them) and computed nodes (they run only when
/// needed).
pub(crate) fn optional(graph: &Graph, id: NodeId) -> bool {
    let op = &graph.node(id).op;
    *op == Op::Input || !op.is_leaf()
}

/// The operands node `index`'s statement reads through `Option` locals,
/// each once, in node order: those that are optional and not the buffer the
/// plan lets the node overwrite (whose local it does not read).
pub(crate) fn unwrapped_operands(graph: &Graph, plan: &Plan, index: usize) -> Vec<NodeId> {
    let mut operands: Vec<NodeId> = graph.nodes[index]
        .operands
        .iter()
        .copied()
        .filter(|&o| optional(graph, o) && plan.overwrites[index] != Some(o))
        .collect();
    operands.sort_unstable_by_key(|o| o.0);
    operands.dedup();
    operands
}

/// `__need` and the statements filling it from `__want`: each wanted
/// output's node, then, in reverse topological order, the operands of each
/// needed node. Only computed nodes have a meaningful flag.
pub(crate) fn need_statements(graph: &Graph, needed: &[bool]) -> Vec<TokenStream> {
    let count = graph.nodes.len();
    let mut statements = vec![quote! { let mut __need = [false; #count]; }];
    for (k, output) in graph.outputs.iter().enumerate() {
        if !graph.node(output.node).op.is_leaf() {
            let index = output.node.0;
            statements.push(quote! { __need[#index] |= __want[#k]; });
        }
    }
    for index in (0..count).rev() {
        let node = &graph.nodes[index];
        if !needed[index] || node.op.is_leaf() {
            continue;
        }
        let mut operands: Vec<usize> = node
            .operands
            .iter()
            .filter(|o| !graph.node(**o).op.is_leaf())
            .map(|o| o.0)
            .collect();
        operands.sort_unstable();
        operands.dedup();
        if !operands.is_empty() {
            statements.push(quote! { if __need[#index] { #(__need[#operands] = true;)* } });
        }
    }
    statements
}

/// Node `index`'s statement, run only when the node is needed and with its
/// `Option` operands unwrapped: `operands` pairs each operand's local with
/// the expression giving it as an `Option` (the local itself, or a
/// reference to it when the value is not `Copy`). With `bound`, the
/// statement binds that local and the guarded form binds it as an `Option`.
pub(crate) fn guarded(
    index: usize,
    operands: &[(Ident, TokenStream)],
    statement: &TokenStream,
    bound: Option<&Ident>,
) -> TokenStream {
    let names = operands.iter().map(|(name, _)| name);
    let values = operands.iter().map(|(_, value)| value);
    let some = quote! { ::core::option::Option::Some };
    let none = quote! { ::core::option::Option::None };
    match bound {
        Some(name) if operands.is_empty() => quote! {
            let #name = if __need[#index] { #statement #some(#name) } else { #none };
        },
        Some(name) => quote! {
            let #name = match (__need[#index], #(#values),*) {
                (true, #(#some(#names)),*) => { #statement #some(#name) }
                _ => #none,
            };
        },
        None if operands.is_empty() => quote! {
            if __need[#index] { #statement }
        },
        None => quote! {
            if let (true, #(#some(#names)),*) = (__need[#index], #(#values),*) { #statement }
        },
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    /// A chain of `nodes` nodes, every `every`-th of them an output too.
    fn chain(nodes: usize, every: usize, no_std: bool) -> proc_macro2::TokenStream {
        let mut source = String::new();
        if no_std {
            source.push_str("#[no_std] ");
        }
        source.push_str("struct Chain { input x: [4, 8]; var w: [8, 8]; let h0 = x;");
        for i in 1..nodes {
            let keyword = if i % every == 0 { "output" } else { "let" };
            let value = match i % 3 {
                0 => format!("matmul(h{}, w)", i - 1),
                1 => format!("tanh(h{})", i - 1),
                _ => format!("h{} * h{}", i - 1, i.saturating_sub(2)),
            };
            write!(source, " {keyword} h{i} = {value};").expect("writing to a String");
        }
        write!(source, " output y = h{}; }}", nodes - 1).expect("writing to a String");
        source.parse().expect("the chain lexes")
    }

    fn expanded_len(tokens: proc_macro2::TokenStream) -> usize {
        crate::expand::expand_checked(tokens)
            .unwrap_or_else(|e| panic!("the chain expands: {e}"))
            .to_string()
            .len()
    }

    /// With 30 outputs along a 300-node chain, each output's method would
    /// restate on average half the chain: 15 times the statements of one
    /// output. Shared, the expansion is the one schedule plus a short call
    /// per output, on both backends.
    #[test]
    fn expansion_grows_with_nodes_plus_outputs() {
        for no_std in [false, true] {
            let one = expanded_len(chain(300, 1_000, no_std));
            let many = expanded_len(chain(300, 10, no_std));
            let ratio = many as f64 / one as f64;
            assert!(
                ratio < 2.5,
                "no_std {no_std}: 30 outputs expand to {many} bytes, one to {one} ({ratio:.1}x)"
            );
        }
    }
}
