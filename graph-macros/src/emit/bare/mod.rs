//! Emission of `#[no_std]` graphs: fixed-size arrays in and out, slice
//! kernels, no `std`, no allocator, no `Result`.
//!
//! Every shape of such a graph is literal, so the expansion is plain Rust
//! arrays; the intermediates live in a workspace struct of fixed-size array
//! slots, provided by the caller (or put on the stack by the convenience
//! form), whose size is the constant `WORKSPACE_BYTES`:
//!
//! ```text
//! pub struct Digits { }                       // baked weights are statics
//! pub struct DigitsWorkspace { s0: [f32; 32] }
//! impl Digits {
//!     pub const WORKSPACE_BYTES: usize = size_of::<DigitsWorkspace>();
//!     pub fn logits_with(&self, __ws: &mut DigitsWorkspace, x: &[[f32; 64]; 1]) -> [[f32; 10]; 1] {
//!         let x: &[f32] = x.as_flattened();
//!         let w1: &[f32] = &__DIGITS_W1;
//!         ...
//!         flat::dense(x, w1, Some(b1), (1, 64, 32), Activation::Relu, &mut __ws.s0[..32]);
//!         let h: &[f32] = &__ws.s0[..32];
//!         let mut logits = [[0.0f32; 10]; 1];
//!         flat::dense(h, w2, Some(b2), (1, 32, 10), Activation::Identity, logits.as_flattened_mut());
//!         logits
//!     }
//! }
//! ```
//!
//! The entry points cannot fail: the types carry every shape. Ops without a
//! slice kernel yet, symbolic dims and variable updates are compile errors
//! ([`check`]), reported before emission.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::fetch::Schedule;
use super::{element, f32_literal, local, outputs_name, private};
use crate::ir::{DType, Graph, NodeId};
use crate::plan::{Plan, Storage};
use crate::shape::Shape;

mod fallback;
mod node;
mod schedule;
mod steps;

pub use fallback::fallback;
pub use node::{lanes, strides, Bare};
use node::{slice_operand, statement};

pub fn emit(graph: &Graph, plan: &Plan, introspection: &TokenStream) -> TokenStream {
    let Graph {
        attrs, vis, name, ..
    } = graph;
    let lints = lints();
    let workspace = workspace_name(graph);
    let fields = graph.variables.iter().map(|&id| {
        let field = local(graph, id);
        let ty = nested_type(graph.shape(id), DType::F32);
        quote! { #field: #ty }
    });
    let workspace_items = workspace_items(graph, plan);
    let bytes_doc =
        format!(" Bytes of the workspace every call uses: the size of [`{workspace}`].");
    let outputs_struct = outputs_struct(graph);
    let constructor = constructor(graph);
    let accessors = graph.variables.iter().map(|&id| accessors(graph, id));
    let schedule = Schedule::of(graph, needed_inputs);
    let methods = output_methods(graph, plan, schedule.as_ref());
    let run = run_method(graph, plan, schedule.as_ref());
    let updates = steps::update_methods(graph, plan);
    let (fetched_struct, fetch_method) = schedule.as_ref().map_or_else(
        || (TokenStream::new(), TokenStream::new()),
        |schedule| schedule::fetch_items(graph, plan, schedule),
    );
    let statics = super::constant_statics(graph);
    let debug = super::debug_impl(graph);
    quote! {
        #statics

        #(#attrs)*
        #lints
        #vis struct #name {
            #(#fields,)*
        }

        #outputs_struct

        #workspace_items

        #fetched_struct

        #lints
        impl #name {
            #[doc = #bytes_doc]
            #vis const WORKSPACE_BYTES: usize = ::core::mem::size_of::<#workspace>();
            #constructor
            #(#accessors)*
            #fetch_method
            #methods
            #run
            #updates
            #introspection
        }

        #debug
    }
}

/// `<output>_with` and `<output>` for every output.
fn output_methods(graph: &Graph, plan: &Plan, schedule: Option<&Schedule>) -> TokenStream {
    let methods = graph.outputs.iter().enumerate().map(|(k, output)| {
        let needed = graph.reachable([output.node]);
        let ty = output_type(graph, output.node);
        let (statements, value) = if let Some(schedule) = schedule {
            schedule::fetch_call(graph, schedule, &[k], &needed)
        } else {
            (
                straight_line(graph, plan, &needed),
                output_value(graph, plan, output.node),
            )
        };
        entry_point(
            graph,
            &output.name,
            &needed,
            &statements,
            &ty,
            &value,
            &if graph.shape(output.node).is_scalar() {
                format!(
                    " Computes output `{}`, a scalar returned as `{}`.",
                    output.name,
                    element(graph.node(output.node).dtype)
                )
            } else {
                format!(
                    " Computes output `{}`, of shape {}.",
                    output.name,
                    graph.shape(output.node)
                )
            },
        )
    });
    quote! { #(#methods)* }
}

/// `run_with` and `run`, when the graph has outputs.
fn run_method(graph: &Graph, plan: &Plan, schedule: Option<&Schedule>) -> Option<TokenStream> {
    (!graph.outputs.is_empty()).then(|| {
        let needed = graph.reachable(graph.outputs.iter().map(|o| o.node));
        let outputs = outputs_name(graph);
        let (statements, fields) = if let Some(schedule) = schedule {
            let every: Vec<usize> = (0..graph.outputs.len()).collect();
            let (statements, _) = schedule::fetch_call(graph, schedule, &every, &needed);
            let fields: Vec<TokenStream> = graph
                .outputs
                .iter()
                .map(|output| {
                    let field = &output.name;
                    quote! { #field }
                })
                .collect();
            (statements, fields)
        } else {
            let fields = graph
                .outputs
                .iter()
                .map(|output| {
                    let field = &output.name;
                    let value = output_value(graph, plan, output.node);
                    quote! { #field: #value }
                })
                .collect();
            (straight_line(graph, plan, &needed), fields)
        };
        let run = format_ident!("run");
        entry_point(
            graph,
            &run,
            &needed,
            &statements,
            &quote! { #outputs },
            &quote! { #outputs { #(#fields),* } },
            " Computes every output in one pass, sharing the values they have in common.",
        )
    })
}

/// The workspace struct: one fixed-size array per planned slot.
fn workspace_items(graph: &Graph, plan: &Plan) -> TokenStream {
    let Graph { vis, name, .. } = graph;
    let lints = lints();
    let workspace = workspace_name(graph);
    let slots: Vec<TokenStream> = plan
        .slots
        .iter()
        .zip(&plan.slot_elements)
        .enumerate()
        .map(|(index, (dtype, elements))| {
            let field = format_ident!("s{}", index);
            let elem = element(*dtype);
            let len = elements.unwrap_or(0);
            quote! { #field: [#elem; #len] }
        })
        .collect();
    let slot_zeros = plan.slots.iter().enumerate().map(|(index, dtype)| {
        let field = format_ident!("s{}", index);
        let zero = zero(*dtype);
        let len = plan.slot_elements[index].unwrap_or(0);
        quote! { #field: [#zero; #len] }
    });
    let workspace_doc = format!(
        " Storage for the intermediate values of [`{name}`]: {count} fixed-size slot{s} \
         ({bytes} bytes in all, [`{name}::WORKSPACE_BYTES`]), shared by the values whose \
         lifetimes do not overlap.\n\n `const`-constructible, so it can live in a `static`, \
         on the stack, or anywhere the caller likes; pass it to the `*_with` methods.",
        count = plan.slots.len(),
        s = if plan.slots.len() == 1 { "" } else { "s" },
        bytes = plan.literal_bytes().unwrap_or(0),
    );
    quote! {
        #[doc = #workspace_doc]
        #lints
        #[derive(Debug, Clone)]
        #vis struct #workspace {
            #(#slots,)*
        }

        #lints
        impl #workspace {
            /// A workspace of zeros.
            #[must_use]
            #vis const fn new() -> Self {
                Self { #(#slot_zeros),* }
            }
        }

        impl ::core::default::Default for #workspace {
            fn default() -> Self {
                Self::new()
            }
        }
    }
}

/// The lints of [`super::allowed_lints`], plus `clippy::float_cmp` for the
/// `eq` comparisons written as closures.
fn lints() -> TokenStream {
    quote! {
        #[allow(
            dead_code,
            non_snake_case,
            clippy::many_single_char_names,
            clippy::similar_names,
            clippy::unused_self,
            clippy::unreadable_literal,
            clippy::excessive_precision,
            clippy::too_many_arguments,
            clippy::float_cmp
        )]
    }
}

fn workspace_name(graph: &Graph) -> Ident {
    format_ident!("{}Workspace", graph.name)
}

fn zero(dtype: DType) -> TokenStream {
    match dtype {
        DType::F32 => quote! { 0.0f32 },
        DType::Usize => quote! { 0usize },
        DType::Bool => quote! { false },
    }
}

fn sizes(graph: &Graph, id: NodeId) -> Vec<usize> {
    // `check` rejected symbolic inputs, so every shape is literal.
    graph.shape(id).as_fixed().unwrap_or_default()
}

/// `[[f32; 3]; 2]` for shape [2, 3]; the element type for a scalar.
fn nested_type(shape: &Shape, dtype: DType) -> TokenStream {
    let mut ty = element(dtype);
    for &size in shape.as_fixed().unwrap_or_default().iter().rev() {
        ty = quote! { [#ty; #size] };
    }
    ty
}

/// `[[0.0f32; 3]; 2]` for shape [2, 3].
fn nested_zeros(shape: &Shape, dtype: DType) -> TokenStream {
    let mut value = zero(dtype);
    for &size in shape.as_fixed().unwrap_or_default().iter().rev() {
        value = quote! { [#value; #size] };
    }
    value
}

/// A nested array of rank `rank` (or a reference to one) as a flat slice.
fn flatten(place: &TokenStream, rank: usize, mutable: bool) -> TokenStream {
    match (rank, mutable) {
        (0 | 1, false) => quote! { #place.as_slice() },
        (0 | 1, true) => quote! { #place.as_mut_slice() },
        (_, false) => {
            let steps = (1..rank).map(|_| quote! { .as_flattened() });
            quote! { #place #(#steps)* }
        }
        (_, true) => {
            let steps = (1..rank).map(|_| quote! { .as_flattened_mut() });
            quote! { #place #(#steps)* }
        }
    }
}

fn output_type(graph: &Graph, id: NodeId) -> TokenStream {
    nested_type(graph.shape(id), graph.node(id).dtype)
}

fn outputs_struct(graph: &Graph) -> TokenStream {
    let type_of = |id: NodeId| output_type(graph, id);
    let derives = quote! { Debug, Clone, Copy, PartialEq };
    super::outputs_struct_with(graph, type_of, &derives, &lints())
}

/// `new`, taking the variables the caller gives: not the optimizer's state
/// (zeros) nor the variables whose first value was baked in from
/// `#[weights(..)]` (trained by a step, so kept in RAM: see `bake`).
fn constructor(graph: &Graph) -> TokenStream {
    let vis = &graph.vis;
    let given: Vec<NodeId> = graph
        .variables
        .iter()
        .copied()
        .filter(|id| !graph.state.contains(id) && graph.initial(*id).is_none())
        .collect();
    let names: Vec<Ident> = given.iter().map(|&id| local(graph, id)).collect();
    let params = given.iter().zip(&names).map(|(&id, name)| {
        let ty = nested_type(graph.shape(id), DType::F32);
        quote! { #name: #ty }
    });
    let fields = graph.variables.iter().map(|&id| {
        let name = local(graph, id);
        if let Some(tensor) = graph.initial(id) {
            let value = nested_literal(graph.shape(id), &tensor.values);
            quote! { #name: #value }
        } else if graph.state.contains(&id) {
            let zeros = nested_zeros(graph.shape(id), DType::F32);
            quote! { #name: #zeros }
        } else {
            quote! { #name }
        }
    });
    let list = given
        .iter()
        .zip(&names)
        .map(|(&id, name)| format!("`{name}`: {}", graph.shape(id)))
        .collect::<Vec<_>>()
        .join(", ");
    let baked: Vec<String> = graph
        .variables
        .iter()
        .filter(|&&id| graph.initial(id).is_some())
        .map(|&id| format!("`{}`", local(graph, id)))
        .collect();
    let given_doc = if names.is_empty() {
        " Creates the graph; it takes no variable values.".to_string()
    } else {
        format!(" Creates the graph from the values of its variables ({list}).")
    };
    let doc = if baked.is_empty() {
        given_doc
    } else {
        format!(
            "{given_doc} {} start from the values baked in at build time.",
            baked.join(", ")
        )
    };
    quote! {
        #[doc = #doc]
        #[must_use]
        #vis const fn new(#(#params),*) -> Self {
            Self { #(#fields),* }
        }
    }
}

/// The nested array literal of `values` in shape `shape` (row-major).
fn nested_literal(shape: &Shape, values: &[f32]) -> TokenStream {
    literal_level(&shape.as_fixed().unwrap_or_default(), values)
}

/// The literal of the array of `sizes` whose elements start at `values`.
fn literal_level(sizes: &[usize], values: &[f32]) -> TokenStream {
    match sizes.split_first() {
        None => f32_literal(values.first().copied().unwrap_or(0.0)),
        Some((&size, rest)) => {
            let stride: usize = rest.iter().product();
            let items =
                (0..size).map(|i| literal_level(rest, values.get(i * stride..).unwrap_or(&[])));
            quote! { [#(#items),*] }
        }
    }
}

fn accessors(graph: &Graph, id: NodeId) -> TokenStream {
    let vis = &graph.vis;
    let name = local(graph, id);
    let shape = graph.shape(id);
    let ty = nested_type(shape, DType::F32);
    let mutable = format_ident!("{}_mut", name);
    let setter = format_ident!("set_{}", name);
    let doc = format!(" The current value of variable `{name}`, of shape {shape}.");
    let doc_mut = format!(" Mutable access to variable `{name}`.");
    let doc_set = format!(" Replaces the value of variable `{name}`.");
    quote! {
        #[doc = #doc]
        #[must_use]
        #vis fn #name(&self) -> &#ty {
            &self.#name
        }
        #[doc = #doc_mut]
        #vis fn #mutable(&mut self) -> &mut #ty {
            &mut self.#name
        }
        #[doc = #doc_set]
        #vis fn #setter(&mut self, value: #ty) {
            self.#name = value;
        }
    }
}

/// The statements computing the `needed` nodes, one per node in
/// topological order.
fn straight_line(graph: &Graph, plan: &Plan, needed: &[bool]) -> Vec<TokenStream> {
    (0..graph.nodes.len())
        .filter(|&index| needed[index])
        .map(|index| statement(graph, plan, NodeId(index)))
        .collect()
}

/// The inputs an entry point computing the `needed` nodes takes: those it
/// reads (every shape is literal, so none is needed for a size alone).
fn needed_inputs(graph: &Graph, needed: &[bool]) -> Vec<NodeId> {
    graph
        .inputs
        .iter()
        .copied()
        .filter(|id| needed[id.0])
        .collect()
}

/// The parameters of an entry point computing the `needed` nodes: one per
/// input it reads, an array by reference or a scalar.
fn entry_params(graph: &Graph, needed: &[bool]) -> Vec<(Ident, TokenStream)> {
    needed_inputs(graph, needed)
        .into_iter()
        .map(|id| {
            let name = local(graph, id);
            let shape = graph.shape(id);
            let ty = nested_type(shape, graph.node(id).dtype);
            let ty = if shape.is_scalar() {
                ty
            } else {
                quote! { &#ty }
            };
            (name, ty)
        })
        .collect()
}

/// The workspace form `<method>_with(&self, workspace, inputs..)` and the
/// convenience form `<method>(&self, inputs..)` with a workspace on the
/// stack, taking the inputs of the `needed` nodes, running `statements` and
/// returning `value`.
fn entry_point(
    graph: &Graph,
    method: &Ident,
    needed: &[bool],
    statements: &[TokenStream],
    ty: &TokenStream,
    value: &TokenStream,
    doc: &str,
) -> TokenStream {
    let vis = &graph.vis;
    let workspace = workspace_name(graph);
    let with = format_ident!("{}_with", method);
    let ws = super::workspace_param(graph);
    let inputs = entry_params(graph, needed);
    let params = inputs.iter().map(|(name, ty)| quote! { #name: #ty });
    let params_again = params.clone();
    let args = inputs.iter().map(|(name, _)| name);
    let listed: Vec<String> = needed_inputs(graph, needed)
        .into_iter()
        .filter_map(|id| {
            graph
                .doc(id)
                .map(|text| format!("\n - `{}`: {text}", local(graph, id)))
        })
        .collect();
    let doc = if listed.is_empty() {
        doc.to_string()
    } else {
        format!("{doc}\n\n Inputs:\n{}", listed.concat())
    };
    let with_doc = format!(
        "{doc}\n\n Intermediate values go to `{ws}`; nothing is allocated and nothing can \
         fail."
    );
    let stack_doc = format!(
        "{doc}\n\n With a workspace on the stack ([`Self::WORKSPACE_BYTES`] bytes); \
         `{with}` takes one from the caller."
    );
    quote! {
        #[doc = #with_doc]
        #[must_use]
        #vis fn #with(&self, #ws: &mut #workspace, #(#params),*) -> #ty {
            let __ws = #ws;
            #(#statements)*
            #value
        }

        #[doc = #stack_doc]
        #[must_use]
        #vis fn #method(&self, #(#params_again),*) -> #ty {
            let mut __ws = #workspace::new();
            self.#with(&mut __ws, #(#args),*)
        }
    }
}

/// Whether node `id`'s value is an owned local array (an output computed by
/// a kernel), rather than a slice or a scalar.
fn is_owned_array(graph: &Graph, plan: &Plan, id: NodeId) -> bool {
    plan.storage[id.0] == Storage::Local
        && computes_into_local(graph, id)
        && !graph.shape(id).is_scalar()
}

/// Whether the node's statement runs a kernel into a local (outputs and
/// the scalar kernels the plan keeps out of the workspace).
fn computes_into_local(graph: &Graph, id: NodeId) -> bool {
    !graph.node(id).op.is_leaf() && !crate::plan::is_scalar_arithmetic(graph, id.0)
}

/// The expression returning node `id` from an entry point: the local array
/// or scalar itself, or a copy of a leaf's data.
fn output_value(graph: &Graph, plan: &Plan, id: NodeId) -> TokenStream {
    let p = private();
    let name = local(graph, id);
    let shape = graph.shape(id);
    if shape.is_scalar() || is_owned_array(graph, plan, id) {
        return quote! { #name };
    }
    let zeros = nested_zeros(shape, graph.node(id).dtype);
    let copy = format_ident!("__copy");
    let destination = flatten(&quote! { #copy }, shape.rank(), true);
    let source = slice_operand(graph, plan, id);
    quote! {{
        let mut #copy = #zeros;
        #p::flat::copy(#source, #destination);
        #copy
    }}
}

#[cfg(test)]
mod tests {
    use quote::quote;

    fn expand(tokens: proc_macro2::TokenStream) -> String {
        crate::expand::expand_checked(tokens)
            .unwrap_or_else(|e| panic!("test graph expands: {e}"))
            .to_string()
    }

    #[test]
    fn layer_is_one_dense_call_into_the_returned_array() {
        let expanded = expand(quote! {
            #[no_std]
            struct Layer {
                input x: [2, 3];
                var w: [3, 4];
                var b: [4];
                output y = relu(matmul(x, w) + b);
            }
        });
        let p = quote! { ::staticflow::__private };
        let body = quote! {
            fn y_with(&self, workspace: &mut LayerWorkspace, x: &[[f32; 3usize]; 2usize]) -> [[f32; 4usize]; 2usize] {
                let __ws = workspace;
                let x: &[f32] = x.as_flattened();
                let w: &[f32] = self.w.as_flattened();
                let b: &[f32] = self.b.as_slice();
                let mut y: [[f32; 4usize]; 2usize] = [[0.0f32; 4usize]; 2usize];
                #p::flat::dense(x, w, ::core::option::Option::Some(b), (2usize, 3usize, 4usize),
                    #p::scalar::relu, y.as_flattened_mut());
                y
            }
        };
        assert!(expanded.contains(&body.to_string()), "{expanded}");
        assert!(!expanded.contains("ndarray"), "{expanded}");
        // Nothing can fail (`Debug`'s `fmt::Result` aside).
        assert!(!expanded.contains("result :: Result"), "{expanded}");
    }

    #[test]
    fn intermediates_share_fixed_slots() {
        let expanded = expand(quote! {
            #[no_std]
            struct Chain {
                input x: [8];
                let a = exp(x);
                let b = softmax(a);
                let c = log_softmax(b);
                output y = softmax(c);
            }
        });
        // a, b and c alternate between two 8-float slots; y is returned.
        let workspace = quote! { struct ChainWorkspace { s0: [f32; 8usize], s1: [f32; 8usize], } };
        assert!(expanded.contains(&workspace.to_string()), "{expanded}");
    }
}
