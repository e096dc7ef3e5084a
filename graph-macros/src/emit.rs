//! Phase 6, emission: the checked graph IR to Rust tokens.
//!
//! For a graph `struct Affine { input x: [n, 3]; var w: [3, 4]; output y = matmul(x, w); }`
//! the expansion is, roughly:
//!
//! ```text
//! pub struct Affine { w: Array2<f32> }
//! pub struct AffineOutputs { pub y: Array2<f32> }
//! impl Affine {
//!     pub fn new(w: Array2<f32>) -> Result<Self, Error> { /* checks w's shape */ }
//!     pub fn zeros() -> Self { .. }
//!     pub fn w(&self) -> ArrayView2<'_, f32> { .. }      // and w_mut, set_w
//!     pub fn y(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>, Error> {
//!         let mut __dims = DimBindings::new(["n"]);
//!         __dims.check_input("x", &[Dim::Symbol("n"), Dim::Fixed(3)], x.shape())?;
//!         let w = self.w.view();
//!         let y: Array2<f32> = kernels::linalg::matmul(x.view(), w.view());
//!         Ok(y)
//!     }
//!     pub fn run(&self, x: ArrayView2<'_, f32>) -> Result<AffineOutputs, Error> { .. }
//! }
//! ```
//!
//! Every entry point checks its inputs once, then runs one `let` per node it
//! needs, in topological order. Paths are absolute (`::staticflow::__private`,
//! `::core`), so user items named `Result` or `ndarray` change nothing.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

use crate::ir::{DType, Graph, NodeId, Op};
use crate::shape::{Dim, Shape};

mod node;

/// Lints the generated code can trigger in the user's crate, allowed on the
/// generated items only:
/// - `dead_code`: every graph gets a full API; a user calls a subset of it.
/// - `non_snake_case`: locals carry the user's names, often math names (`W`).
/// - `clippy::many_single_char_names`, `clippy::similar_names`: likewise
///   (`x`, `w`, `b`; `w1`, `w2`).
/// - `clippy::unused_self`: an output that reads no variable still is a method.
/// - `clippy::unnecessary_wraps`: an entry point whose inputs are all scalars
///   cannot fail, but keeps the same signature as every other.
/// - `clippy::unreadable_literal`, `clippy::excessive_precision`: constants are
///   printed as the exact `f32` the user's literal rounds to.
/// - `clippy::too_many_arguments`: one parameter per input or variable.
fn allowed_lints() -> TokenStream {
    quote! {
        #[allow(
            dead_code,
            non_snake_case,
            clippy::many_single_char_names,
            clippy::similar_names,
            clippy::unused_self,
            clippy::unnecessary_wraps,
            clippy::unreadable_literal,
            clippy::excessive_precision,
            clippy::too_many_arguments
        )]
    }
}

pub fn emit(graph: &Graph, as_written: &str) -> TokenStream {
    let Graph {
        attrs, vis, name, ..
    } = graph;
    let lints = allowed_lints();
    let fields = graph.variables.iter().map(|&id| {
        let field = local(graph, id);
        let ty = array_type(graph.shape(id), DType::F32);
        quote! { #field: #ty }
    });
    let outputs_struct = outputs_struct(graph);
    let constructors = constructors(graph);
    let accessors = graph.variables.iter().map(|&id| accessors(graph, id));
    let output_methods = graph
        .outputs
        .iter()
        .map(|output| output_method(graph, output));
    let run = run_method(graph);
    let update = update_method(graph);
        let default = default_impl(graph);
    let introspection = crate::introspect::items(graph, as_written);
    quote! {
        #(#attrs)*
        #lints
        #vis struct #name {
            #(#fields,)*
        }

        #outputs_struct

        #lints
        impl #name {
            #constructors
            #(#accessors)*
            #(#output_methods)*
                        #run
            #update
            #introspection
        }

        #default
    }
}

fn private() -> TokenStream {
    quote! { ::staticflow::__private }
}

/// The Rust name of a node's value: the user's name, or `__g<id>_<op>`.
fn local(graph: &Graph, id: NodeId) -> Ident {
    let node = graph.node(id);
    match &node.name {
        Some(name) => name.clone(),
        None => format_ident!("__g{}_{}", id.0, node.op.word()),
    }
}

fn dimension(rank: usize) -> TokenStream {
    let p = private();
    match rank {
        0 => quote! { #p::ndarray::Ix0 },
        1 => quote! { #p::ndarray::Ix1 },
        2 => quote! { #p::ndarray::Ix2 },
        3 => quote! { #p::ndarray::Ix3 },
        4 => quote! { #p::ndarray::Ix4 },
        5 => quote! { #p::ndarray::Ix5 },
        6 => quote! { #p::ndarray::Ix6 },
        _ => quote! { #p::ndarray::IxDyn },
    }
}

/// The Rust element type of a dtype.
fn element(dtype: DType) -> TokenStream {
    match dtype {
        DType::F32 => quote! { f32 },
        DType::Usize => quote! { usize },
        DType::Bool => quote! { bool },
    }
}

/// The owned type of a value: a scalar, or an `Array` of its rank.
fn array_type(shape: &Shape, dtype: DType) -> TokenStream {
    let elem = element(dtype);
    if shape.is_scalar() {
        return elem;
    }
    let p = private();
    let dim = dimension(shape.rank());
    quote! { #p::ndarray::Array<#elem, #dim> }
}

fn view_type(shape: &Shape, dtype: DType, mutable: bool) -> TokenStream {
    let p = private();
    let elem = element(dtype);
    let dim = dimension(shape.rank());
    if mutable {
        quote! { #p::ndarray::ArrayViewMut<'_, #elem, #dim> }
    } else {
        quote! { #p::ndarray::ArrayView<'_, #elem, #dim> }
    }
}

/// A dim's size at run time: a literal, or the size the call bound to a
/// symbol.
fn size_expr(dim: &Dim) -> TokenStream {
    match dim {
        Dim::Fixed(size) => quote! { #size },
        Dim::Symbol(symbol) => quote! { __dims.size(#symbol) },
    }
}

/// How run-time errors name a node: the user's name, or the op that made it.
fn describe(graph: &Graph, id: NodeId) -> String {
    let node = graph.node(id);
    node.name.as_ref().map_or_else(
        || format!("the result of `{}`", node.op.word()),
        ToString::to_string,
    )
}

/// A literal shape as an ndarray dimension expression.
fn shape_expr(sizes: &[usize]) -> TokenStream {
    let p = private();
    if sizes.len() > 6 {
        quote! { #p::ndarray::IxDyn(&[#(#sizes),*]) }
    } else {
        quote! { [#(#sizes),*] }
    }
}

fn f32_literal(value: f32) -> TokenStream {
    let magnitude = Literal::f32_suffixed(value.abs());
    if value.is_sign_negative() {
        quote! { -#magnitude }
    } else {
        quote! { #magnitude }
    }
}

fn fixed_sizes(graph: &Graph, id: NodeId) -> Vec<usize> {
    // Variables and constants have literal shapes: `check` rejects symbolic
    // variable dims, and constants are literals.
    graph.shape(id).as_fixed().unwrap_or_default()
}

fn outputs_struct(graph: &Graph) -> TokenStream {
    if graph.outputs.is_empty() {
        return TokenStream::new();
    }
    let vis = &graph.vis;
    let name = outputs_name(graph);
    let lints = allowed_lints();
    let doc = format!(
        " Every output of [`{}`], as computed by [`{}::run`].",
        graph.name, graph.name
    );
    let fields = graph.outputs.iter().map(|output| {
        let field = &output.name;
        let ty = array_type(graph.shape(output.node), graph.node(output.node).dtype);
        let attrs = &output.attrs;
        let shape_doc = format!(" Shape {}.", graph.shape(output.node));
        quote! {
            #(#attrs)*
            #[doc = #shape_doc]
            pub #field: #ty
        }
    });
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq)]
        #lints
        #vis struct #name {
            #(#fields,)*
        }
    }
}

fn outputs_name(graph: &Graph) -> Ident {
    format_ident!("{}Outputs", graph.name)
}

fn constructors(graph: &Graph) -> TokenStream {
    let p = private();
    let vis = &graph.vis;
    let names: Vec<Ident> = graph.variables.iter().map(|&id| local(graph, id)).collect();
    if names.is_empty() {
        return quote! {
            /// Creates the graph. It has no variables, so there is nothing to give.
            #[must_use]
            #vis fn new() -> Self {
                Self {}
            }
        };
    }
    let params = graph.variables.iter().zip(&names).map(|(&id, name)| {
        let ty = array_type(graph.shape(id), DType::F32);
        quote! { #name: #ty }
    });
    let checks = graph
        .variables
        .iter()
        .zip(&names)
        .filter_map(|(&id, name)| {
            let shape = graph.shape(id);
            if shape.is_scalar() {
                return None;
            }
            let sizes = fixed_sizes(graph, id);
            let text = name.to_string();
            Some(quote! {
                #p::check_variable(#text, &[#(#sizes),*], #name.shape())?;
            })
        });
    let zeros = graph.variables.iter().zip(&names).map(|(&id, name)| {
        if graph.shape(id).is_scalar() {
            quote! { #name: 0.0 }
        } else {
            let shape = shape_expr(&fixed_sizes(graph, id));
            quote! { #name: #p::ndarray::Array::zeros(#shape) }
        }
    });
    let list = graph
        .variables
        .iter()
        .zip(&names)
        .map(|(&id, name)| format!("`{name}`: {}", graph.shape(id)))
        .collect::<Vec<_>>()
        .join(", ");
    let new_doc = format!(" Creates the graph from the values of its variables ({list}).");
    quote! {
        #[doc = #new_doc]
        ///
        /// # Errors
        /// [`Error::VariableShape`](::staticflow::Error::VariableShape) naming the first
        /// variable whose value has the wrong shape.
        #vis fn new(#(#params),*) -> ::core::result::Result<Self, #p::Error> {
            #(#checks)*
            ::core::result::Result::Ok(Self { #(#names),* })
        }

        /// Creates the graph with every variable set to zero.
        #[must_use]
        #vis fn zeros() -> Self {
            Self { #(#zeros),* }
        }
    }
}

fn default_impl(graph: &Graph) -> TokenStream {
    let name = &graph.name;
    let body = if graph.variables.is_empty() {
        quote! { Self::new() }
    } else {
        quote! { Self::zeros() }
    };
    quote! {
        impl ::core::default::Default for #name {
            fn default() -> Self {
                #body
            }
        }
    }
}

fn accessors(graph: &Graph, id: NodeId) -> TokenStream {
    let p = private();
    let vis = &graph.vis;
    let name = local(graph, id);
    let shape = graph.shape(id);
    let mutable = format_ident!("{}_mut", name);
    let setter = format_ident!("set_{}", name);
    let doc = format!(" The current value of variable `{name}`, of shape {shape}.");
    let doc_mut = format!(" Mutable access to variable `{name}`; its shape cannot change.");
    let doc_set = format!(" Replaces the value of variable `{name}`, of shape {shape}.");
    if shape.is_scalar() {
        return quote! {
            #[doc = #doc]
            #[must_use]
            #vis fn #name(&self) -> f32 {
                self.#name
            }
            #[doc = #doc_mut]
            #vis fn #mutable(&mut self) -> &mut f32 {
                &mut self.#name
            }
            #[doc = #doc_set]
            #vis fn #setter(&mut self, value: f32) {
                self.#name = value;
            }
        };
    }
    let view = view_type(shape, DType::F32, false);
    let view_mut = view_type(shape, DType::F32, true);
    let ty = array_type(shape, DType::F32);
    let sizes = fixed_sizes(graph, id);
    let text = name.to_string();
    quote! {
        #[doc = #doc]
        #[must_use]
        #vis fn #name(&self) -> #view {
            self.#name.view()
        }
        #[doc = #doc_mut]
        #vis fn #mutable(&mut self) -> #view_mut {
            self.#name.view_mut()
        }
        #[doc = #doc_set]
        ///
        /// # Errors
        /// [`Error::VariableShape`](::staticflow::Error::VariableShape) if `value` has
        /// another shape; the variable is then unchanged.
        #vis fn #setter(&mut self, value: #ty) -> ::core::result::Result<(), #p::Error> {
            #p::check_variable(#text, &[#(#sizes),*], value.shape())?;
            self.#name = value;
            ::core::result::Result::Ok(())
        }
    }
}

/// The parameters, input checks and statements computing `roots`.
struct Body {
    params: Vec<TokenStream>,
    /// Names and shapes of the inputs taken, for docs.
    input_docs: Vec<String>,
    statements: Vec<TokenStream>,
}

fn body(graph: &Graph, roots: &[NodeId]) -> Body {
    let p = private();
    let needed = graph.reachable(roots.iter().copied());
    let inputs: Vec<NodeId> = graph
        .inputs
        .iter()
        .copied()
        .filter(|id| needed[id.0])
        .collect();
    let mut params = Vec::new();
    let mut input_docs = Vec::new();
    for &id in &inputs {
        let name = local(graph, id);
        let shape = graph.shape(id);
        let dtype = graph.node(id).dtype;
        let ty = if shape.is_scalar() {
            element(dtype)
        } else {
            view_type(shape, dtype, false)
        };
        params.push(quote! { #name: #ty });
        input_docs.push(format!("`{name}`: {shape}"));
    }
    let mut statements = Vec::new();
    let mut symbols: Vec<&str> = Vec::new();
    for &id in &inputs {
        for symbol in graph.shape(id).symbols() {
            if !symbols.contains(&symbol) {
                symbols.push(symbol);
            }
        }
    }
    let checked: Vec<NodeId> = inputs
        .iter()
        .copied()
        .filter(|&id| !graph.shape(id).is_scalar())
        .collect();
    if !checked.is_empty() {
        statements.push(quote! {
            let mut __dims = #p::DimBindings::new([#(#symbols),*]);
        });
        for &id in &checked {
            let name = local(graph, id);
            let text = name.to_string();
            let dims = graph.shape(id).0.iter().map(|dim| match dim {
                Dim::Fixed(size) => quote! { #p::Dim::Fixed(#size) },
                Dim::Symbol(symbol) => quote! { #p::Dim::Symbol(#symbol) },
            });
            statements.push(quote! {
                __dims.check_input(#text, &[#(#dims),*], #name.shape())?;
            });
        }
    }
    for (index, node) in graph.nodes.iter().enumerate() {
        if needed[index] && node.op != Op::Input {
            statements.push(node::statement(graph, NodeId(index)));
        }
    }
    Body {
        params,
        input_docs,
        statements,
    }
}

/// Whether a node's local is a view (of an input, a variable or a constant)
/// rather than an owned array.
fn is_view(graph: &Graph, id: NodeId) -> bool {
    let node = graph.node(id);
    node.op.is_leaf() && !graph.shape(id).is_scalar()
}

/// The expression passing node `id` to a kernel: a view of any rank.
fn operand(graph: &Graph, id: NodeId) -> TokenStream {
    let name = local(graph, id);
    if graph.shape(id).is_scalar() {
        let p = private();
        quote! { #p::ndarray::aview0(&#name) }
    } else {
        quote! { #name.view() }
    }
}

/// The owned value of node `id`, for returning it.
fn owned(graph: &Graph, id: NodeId) -> TokenStream {
    let name = local(graph, id);
    if is_view(graph, id) {
        quote! { #name.to_owned() }
    } else {
        quote! { #name }
    }
}

fn errors_doc(body: &Body) -> Option<TokenStream> {
    if body.input_docs.is_empty() {
        return None;
    }
    Some(quote! {
        ///
        /// # Errors
        /// [`Error::InputShape`](::staticflow::Error::InputShape) naming the first input
        /// whose shape disagrees with the graph, or whose symbolic dims disagree with
        /// those of an earlier input.
    })
}

fn inputs_sentence(body: &Body) -> String {
    if body.input_docs.is_empty() {
        " It takes no inputs.".to_string()
    } else {
        format!(" Inputs: {}.", body.input_docs.join(", "))
    }
}

fn output_method(graph: &Graph, output: &crate::ir::Output) -> TokenStream {
    let p = private();
    let vis = &graph.vis;
    let body = body(graph, &[output.node]);
    let name = &output.name;
    let ty = array_type(graph.shape(output.node), graph.node(output.node).dtype);
    let value = owned(graph, output.node);
    let attrs = &output.attrs;
    let summary = format!(
        " Computes output `{name}`, of shape {}, and only the nodes it depends on.",
        graph.shape(output.node)
    );
    let inputs = inputs_sentence(&body);
    let errors = errors_doc(&body);
    let Body {
        params, statements, ..
    } = body;
    quote! {
        #(#attrs)*
        #[doc = #summary]
        #[doc = #inputs]
        #errors
        #vis fn #name(&self, #(#params),*) -> ::core::result::Result<#ty, #p::Error> {
            #(#statements)*
            ::core::result::Result::Ok(#value)
        }
    }
}

fn run_method(graph: &Graph) -> TokenStream {
    if graph.outputs.is_empty() {
        return TokenStream::new();
    }
    let p = private();
    let vis = &graph.vis;
    let roots: Vec<NodeId> = graph.outputs.iter().map(|o| o.node).collect();
    let body = body(graph, &roots);
    let outputs = outputs_name(graph);
    let fields = graph.outputs.iter().enumerate().map(|(i, output)| {
        let field = &output.name;
        let later_use = graph.outputs[i + 1..].iter().any(|o| o.node == output.node);
        let value = if later_use && !is_view(graph, output.node) {
            let name = local(graph, output.node);
            quote! { #name.clone() }
        } else {
            owned(graph, output.node)
        };
        quote! { #field: #value }
    });
    let summary = " Computes every output in one pass, each shared node once.".to_string();
    let inputs = inputs_sentence(&body);
    let errors = errors_doc(&body);
    let Body {
        params, statements, ..
    } = body;
    quote! {
        #[doc = #summary]
        #[doc = #inputs]
        #errors
        #vis fn run(&self, #(#params),*) -> ::core::result::Result<#outputs, #p::Error> {
            #(#statements)*
            ::core::result::Result::Ok(#outputs { #(#fields),* })
        }
    }
}

fn update_method(graph: &Graph) -> TokenStream {
    if graph.updates.is_empty() {
        return TokenStream::new();
    }
    let p = private();
    let vis = &graph.vis;
    let roots: Vec<NodeId> = graph.updates.iter().map(|u| u.value).collect();
    let body = body(graph, &roots);
    let mut finals = Vec::new();
    let mut assigns = Vec::new();
    for update in &graph.updates {
        let variable = local(graph, update.variable);
        let new = format_ident!("__new_{}", variable);
        let value = owned(graph, update.value);
        finals.push(quote! { let #new = #value; });
        assigns.push(quote! { self.#variable = #new; });
    }
    let names: Vec<String> = graph
        .updates
        .iter()
        .map(|u| format!("`{}`", local(graph, u.variable)))
        .collect();
    let summary = format!(
        " Computes the new values of {} from the current ones, then stores them all.",
        names.join(", ")
    );
    let inputs = inputs_sentence(&body);
    let errors = errors_doc(&body);
    let Body {
        params, statements, ..
    } = body;
    quote! {
        #[doc = #summary]
        #[doc = #inputs]
        #errors
        #vis fn update(&mut self, #(#params),*) -> ::core::result::Result<(), #p::Error> {
            #(#statements)*
            #(#finals)*
            #(#assigns)*
            ::core::result::Result::Ok(())
        }
    }
}

/// What a graph with errors expands to, beside its `compile_error!`s: the
/// struct and the signatures the user asked for, with bodies that never run,
/// so calling code sees one real error instead of a cascade of "cannot find".
/// Types come from the declared shapes, and from inferred ones where known.
/// `unlowered` are outputs whose value had an error before it became a node:
/// their methods take every input.
pub fn fallback(graph: &Graph, unlowered: &[&Ident]) -> TokenStream {
    let p = private();
    let Graph {
        attrs, vis, name, ..
    } = graph;
    let lints = allowed_lints();
    let dyn_array = quote! { #p::ndarray::Array<f32, #p::ndarray::IxDyn> };
    let type_of = |id: NodeId| {
        let node = graph.node(id);
        node.shape
            .as_ref()
            .map_or(dyn_array.clone(), |shape| array_type(shape, node.dtype))
    };
    let variables: Vec<TokenStream> = graph
        .variables
        .iter()
        .map(|&id| {
            let ty = type_of(id);
            quote! { _: #ty }
        })
        .collect();
    let everything: Vec<NodeId> = graph.inputs.clone();
    let outputs = graph
        .outputs
        .iter()
        .map(|output| (&output.name, Some(output.node)))
        .chain(unlowered.iter().map(|name| (*name, None)));
    let methods = outputs.map(|(method, node)| {
        let needed = graph.reachable(node.map_or(everything.clone(), |node| vec![node]));
        let params = graph.inputs.iter().filter(|id| needed[id.0]).map(|&id| {
            let dtype = graph.node(id).dtype;
            let ty = graph
                .node(id)
                .shape
                .as_ref()
                .map_or(dyn_array.clone(), |shape| {
                    if shape.is_scalar() {
                        element(dtype)
                    } else {
                        view_type(shape, dtype, false)
                    }
                });
            quote! { _: #ty }
        });
        let ty = node.map_or(dyn_array.clone(), type_of);
        quote! {
            #vis fn #method(&self, #(#params),*) -> ::core::result::Result<#ty, #p::Error> {
                ::core::unreachable!()
            }
        }
    });
    quote! {
        #(#attrs)*
        #lints
        #vis struct #name;

        #lints
        impl #name {
            #vis fn new(#(#variables),*) -> ::core::result::Result<Self, #p::Error> {
                ::core::unreachable!()
            }
            #vis fn zeros() -> Self {
                ::core::unreachable!()
            }
            #(#methods)*
        }
    }
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
    fn seed_graph_is_one_let_per_node_in_order() {
        let expanded = expand(quote! {
            struct Seed {
                const a = 7.0;
                const b = 8.0;
                output res = (a * b) / (a + b);
            }
        });
        let body = quote! {
            -> ::core::result::Result<f32, ::staticflow::__private::Error> {
                let a: f32 = 7f32;
                let b: f32 = 8f32;
                let __g2_mul: f32 = a * b;
                let __g3_add: f32 = a + b;
                let res: f32 = __g2_mul / __g3_add;
                ::core::result::Result::Ok(res)
            }
        };
        assert!(expanded.contains(&body.to_string()), "{expanded}");
    }

    #[test]
    fn entry_point_checks_inputs_then_computes_only_what_it_needs() {
        let expanded = expand(quote! {
            struct Dense {
                input x: [n, 3];
                input unused: [m];
                var w: [3, 2];
                output y = matmul(x, w);
                output other = unused * 2.0;
            }
        });
        let p = quote! { ::staticflow::__private };
        let method = quote! {
            fn y(&self, x: #p::ndarray::ArrayView<'_, f32, #p::ndarray::Ix2>)
                -> ::core::result::Result<#p::ndarray::Array<f32, #p::ndarray::Ix2>, #p::Error> {
                let mut __dims = #p::DimBindings::new(["n"]);
                __dims.check_input("x", &[#p::Dim::Symbol("n"), #p::Dim::Fixed(3usize)], x.shape())?;
                let w = self.w.view();
                let y: #p::ndarray::Array<f32, #p::ndarray::Ix2> =
                    #p::kernels::linalg::matmul(x.view(), w.view());
                ::core::result::Result::Ok(y)
            }
        };
        assert!(expanded.contains(&method.to_string()), "{expanded}");
    }

    #[test]
    fn errors_come_with_a_fallback_item() {
        let errors = crate::expand::expand_checked(quote! {
            struct Broken { input x: [2]; output y = x + missing; }
        })
        .unwrap_err()
        .to_string();
        assert!(errors.contains("compile_error"), "{errors}");
        assert!(errors.contains("struct Broken"), "{errors}");
        assert!(errors.contains("fn y"), "{errors}");
    }
}
